/**
 * Property: a request path that the hostile-path rule lets through stays below the provider's base
 * path however a server or proxy on the way reads it: percent-decoded (once or until stable, strict
 * or lenient UTF-8 with overlong forms, IIS's `%uXXXX`), Unicode-normalized (a fullwidth dot is a
 * dot), with backslashes taken for slashes, or with `;` path parameters cut off (Tomcat, Spring).
 * And splitting a target never throws and loses nothing.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { hostilePath, originForm, splitTarget, upstreamPath } from '../src/path.js'

/** The bytes a percent-decoder makes of `s`: each `%XX` one byte, every other character its UTF-8. */
function percentBytes(s: string): number[] {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    const hex = s.slice(i + 1, i + 3)
    if (s[i] === '%' && /^[0-9a-f]{2}$/i.test(hex)) {
      out.push(parseInt(hex, 16))
      i += 2
    } else out.push(...Buffer.from(s[i]!, 'utf8'))
  }
  return out
}

/** UTF-8 as an old, lenient decoder reads it: overlong forms accepted (`C0 AE` is '.'), bad bytes as latin1. */
function lenientUtf8(bytes: number[]): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    const cont = (k: number) => (bytes[i + k] ?? 0) >> 6 === 2
    if (b >= 0xc0 && b < 0xe0 && cont(1)) {
      out += String.fromCodePoint(((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f))
      i += 1
    } else if (b >= 0xe0 && b < 0xf0 && cont(1) && cont(2)) {
      out += String.fromCodePoint(((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f))
      i += 2
    } else out += String.fromCharCode(b)
  }
  return out
}

const strictUtf8 = (bytes: number[]): string | undefined => {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes))
  } catch {
    return undefined
  }
}

const iisUnicode = (s: string) => s.replace(/%u([0-9a-f]{4})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)))

function untilStable(s: string, step: (s: string) => string): string {
  for (let i = 0; i < 4; i++) {
    const next = step(s)
    if (next === s) break
    s = next
  }
  return s
}

/** How a server may read a path before it routes it; each reading may be followed by the next ones. */
const READINGS: Array<[string, (p: string) => string | undefined]> = [
  ['as sent', (p) => p],
  ['percent-decoded, strict UTF-8', (p) => strictUtf8(percentBytes(p))],
  ['percent-decoded until stable, lenient UTF-8', (p) => untilStable(p, (s) => lenientUtf8(percentBytes(s)))],
  ['IIS %uXXXX, then percent-decoded', (p) => untilStable(iisUnicode(p), (s) => lenientUtf8(percentBytes(iisUnicode(s))))],
]
const THEN: Array<[string, (p: string) => string]> = [
  ['', (p) => p],
  ['NFKC', (p) => p.normalize('NFKC')],
  ['backslash as slash', (p) => p.replaceAll('\\', '/')],
  ['NFKC, backslash as slash, ;params cut', (p) => p.normalize('NFKC').replaceAll('\\', '/').split('/').map((s) => s.split(';')[0]).join('/')],
]

/** Why `path` (a whole upstream path) would leave `base` or be misread, or undefined when it is sound. */
function unsound(path: string, base: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) return 'a control character'
  if (!path.startsWith(base + '/') && path !== base && !(base === '' && path === '/')) return 'outside the base path'
  const segments = path.slice(base.length).split('/').slice(1)
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!
    if (s === '.' || s === '..') return 'a dot segment'
    if (s === '' && i !== segments.length - 1) return 'an empty segment'
  }
  return undefined
}

// Pieces chosen to build traversals in every encoding the readings know, among harmless ones.
const PIECES = [
  'v1', 'models', 'a', 'Z', '-', '_', '~', '.', '..', 'x.json', ';', ';x=1', '@', ':', '+', '!', '$', '&', "'", '(', '*', ',', '=',
  '%2e', '%2E', '%252e', '%25', '%', '%%', '%2', '%g0', '%2f', '%2F', '%5c', '%5C', '\\', '%3b', '%3B', '%3f', '%23', '#', '?',
  '%c0%ae', '%C0%AE', '%e0%80%ae', '%c0%af', '%c1%9c', '%c0%2e', '%u002e', '%U002E', '%u002f', '%u005c', '%uff0e',
  '%ef%bc%8e', '%EF%BC%8F', '%ef%bc%bc', '．', '／', '＼', '%e2%80%a4', '%e2%80%a5', '%ef%b9%92',
  '%00', '%0a', '%0d', '%09', '%1f', '%7f', '%20', ' ', '\t', '\x00', '\x7f', 'é', '%c3%a9', '%ff', '%80',
]
const segment = fc.array(fc.constantFrom(...PIECES), { minLength: 0, maxLength: 4 }).map((p) => p.join(''))
const rest = fc.array(segment, { minLength: 0, maxLength: 5 }).map((s) => (s.length ? '/' + s.join('/') : ''))
const query = fc.oneof(fc.constant(''), fc.constant('?'), fc.array(fc.constantFrom(...PIECES), { maxLength: 4 }).map((p) => '?' + p.join('')))
const target = fc.tuple(rest, query).map(([r, q]) => `/openai${r}${q}`)
const base = fc.constantFrom('', '/v1', '/api/openai')

describe('the hostile-path rule', () => {
  test('a path it lets through stays below the base path under every reading', () => {
    fc.assert(
      fc.property(target, base, (t, b) => {
        const split = splitTarget(t)!
        if (hostilePath(split)) return
        const path = upstreamPath(b, { ...split, search: '' })
        for (const [name, read] of READINGS) {
          const once = read(path)
          if (once === undefined) continue
          for (const [then, after] of THEN) {
            const why = unsound(after(once), b)
            expect(why, `${JSON.stringify(t)} read ${name}${then ? `, ${then}` : ''} as ${JSON.stringify(after(once))}`).toBeUndefined()
          }
        }
      }),
      { numRuns: 20_000 },
    )
  })

  test('ordinary API paths pass', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._~:@-]{0,30}$/).filter((s) => s !== '.' && s !== '..')
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), fc.boolean(), (words, slash) => {
        const t = splitTarget(`/openai/${words.join('/')}${slash ? '/' : ''}?limit=2&after=x%2Fy`)!
        expect(hostilePath(t)).toBeUndefined()
      }),
    )
  })
})

describe('splitTarget', () => {
  test('never throws, and the parts put together give back the target', () => {
    const anyTarget = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.tuple(fc.constantFrom('', '/', 'http://h', 'HTTPS://h:1', 'a+b.c-d://', '//', '?'), fc.string({ unit: fc.constantFrom(...'/?#:a.%\\') })).map(([a, b]) => a + b),
    )
    fc.assert(
      fc.property(anyTarget, (t) => {
        const split = splitTarget(t)
        if (!split) return
        expect(`/${split.provider}${split.rest}${split.search}`).toBe(originForm(t))
        expect(split.provider).not.toMatch(/[/?]/)
        expect(split.rest === '' || split.rest.startsWith('/')).toBe(true)
        expect(split.search === '' || split.search.startsWith('?')).toBe(true)
        expect(split.rest).not.toContain('?')
        expect(() => hostilePath(split)).not.toThrow()
      }),
      { numRuns: 5000 },
    )
  })
})
