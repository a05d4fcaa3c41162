/** Splitting `/{provider}/{rest}?{query}` and refusing paths that try to leave the provider's base path. */

export interface Target {
  provider: string
  /** The path after the provider segment, as received: '' or starting with '/'. */
  rest: string
  /** The query string as received, '?' included; '' for none ('?' alone for an empty one). */
  search: string
}

const ABSOLUTE_FORM = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i

/**
 * A request target in origin form (`/path?query`). An absolute-form target (`http://host/path`, which
 * RFC 9112 section 3.2.2 says a server must accept; Express keeps its scheme and host when it strips a
 * mount path) loses its scheme and authority: the upstream is always the provider's base URL.
 */
export function originForm(url: string): string {
  if (url.charCodeAt(0) === 47 /* / */) return url
  const m = ABSOLUTE_FORM.exec(url)
  if (!m) return url
  const rest = url.slice(m[0].length)
  return rest === '' || rest[0] === '?' ? '/' + rest : rest
}

/**
 * The provider segment of a request path, or undefined when the path cannot name one.
 * Nothing is decoded: the path goes upstream byte for byte.
 */
export function splitTarget(target: string): Target | undefined {
  const url = originForm(target)
  if (url.charCodeAt(0) !== 47 /* / */) return undefined
  const q = url.indexOf('?')
  const pathname = q === -1 ? url : url.slice(0, q)
  const search = q === -1 ? '' : url.slice(q)
  const slash = pathname.indexOf('/', 1)
  const provider = slash === -1 ? pathname.slice(1) : pathname.slice(1, slash)
  if (provider === '') return undefined
  return { provider, rest: slash === -1 ? '' : pathname.slice(slash), search }
}

// Encoded dot, slash, backslash, percent or control character: a decoding upstream (or a proxy in
// between) would turn them into traversal or header injection. Raw control characters, spaces,
// backslashes and non-ASCII characters are never valid here (RFC 3986 section 2: they travel encoded).
const ENCODED_TRAVERSAL = /%(?:2e|2f|5c|25|[01][0-9a-f]|7f)/i
const FORBIDDEN_CHARS = /[^\x21-\x7e]|[\\#]/
// A '%' that starts no escape: lenient decoders guess (IIS reads `%u002e` as '.').
const MALFORMED_ESCAPE = /%(?![0-9a-f]{2})/i
// In the decoded path: a backslash, a control character, or a '%' that NFKC made (U+FF05) for a second decode.
const DECODED_FORBIDDEN = /[\x00-\x1f\x7f\\%]/

/** The first dot or empty segment of `path` ('' or starting with '/'), in words. */
function badSegment(path: string): string | undefined {
  // Both need a segment that is empty or starts with a dot (or with ';', which cuts it to empty).
  if (path.indexOf('//') === -1 && path.indexOf('/.') === -1 && path.indexOf('/;') === -1) return undefined
  const segments = path.split('/')
  // segments[0] is the empty string before the leading slash; a trailing slash is allowed.
  for (let i = 1; i < segments.length; i++) {
    // Read as a server that cuts `;` path parameters does (Tomcat, Spring): `..;x` is `..`.
    const semi = segments[i]!.indexOf(';')
    const s = semi === -1 ? segments[i]! : segments[i]!.slice(0, semi)
    if (s === '' && i !== segments.length - 1) return 'an empty segment (//)'
    if (s === '.' || s === '..') return 'a dot segment'
  }
  return undefined
}

/** Why a path may not go upstream, or undefined when it may. */
export function hostilePath(target: Target): string | undefined {
  const { rest, search } = target
  if (FORBIDDEN_CHARS.test(rest)) return 'the path contains a forbidden character'
  if (ENCODED_TRAVERSAL.test(rest)) return 'the path contains an encoded dot, slash, backslash, percent sign or control character'
  const bad = badSegment(rest)
  if (bad) return `the path contains ${bad}`
  if (rest.includes('%')) {
    if (MALFORMED_ESCAPE.test(rest)) return 'the path contains a malformed percent escape'
    // A server may decode the path and fold compatibility characters (NFKC): U+2025 is then '..',
    // U+FF0F '/', and `%3b` a ';' that starts a path parameter. Overlong UTF-8 (`%c0%ae`, a '.' to old
    // decoders) is refused with every other byte sequence that is not UTF-8.
    let decoded: string
    try {
      decoded = decodeURIComponent(rest).normalize('NFKC')
    } catch {
      return 'the path contains percent-encoded bytes that are not UTF-8'
    }
    if (DECODED_FORBIDDEN.test(decoded)) return 'the decoded path contains a backslash, percent sign or control character'
    const decodedBad = badSegment(decoded)
    if (decodedBad) return `the decoded path contains ${decodedBad}`
  }
  if (FORBIDDEN_CHARS.test(search)) return 'the query contains a forbidden character'
  return undefined
}

/** The part of a target that goes upstream below the base path. */
export type PathBelow = Pick<Target, 'rest' | 'search'>

/** `{basePath}{rest}?{query}`: the base URL's own prefix is kept, the query passes verbatim. */
export function upstreamPath(basePath: string, target: PathBelow): string {
  return (basePath + target.rest || '/') + target.search
}
