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
// between) would turn them into traversal or header injection. Raw control characters, spaces and
// backslashes are never valid here.
const ENCODED_TRAVERSAL = /%(?:2e|2f|5c|25|[01][0-9a-f]|7f)/i
const FORBIDDEN_CHARS = /[\x00-\x20\x7f\\#]/

/** Why a path may not go upstream, or undefined when it may. */
export function hostilePath(target: Target): string | undefined {
  const { rest, search } = target
  if (FORBIDDEN_CHARS.test(rest)) return 'the path contains a forbidden character'
  if (ENCODED_TRAVERSAL.test(rest)) return 'the path contains an encoded dot, slash, backslash, percent sign or control character'
  if (rest !== '') {
    const segments = rest.split('/')
    // segments[0] is the empty string before the leading slash; a trailing slash is allowed.
    for (let i = 1; i < segments.length; i++) {
      const s = segments[i]!
      if (s === '' && i !== segments.length - 1) return 'the path contains an empty segment (//)'
      if (/^\.\.?(?:;|$)/.test(s)) return 'the path contains a dot segment'
    }
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
