/**
 * Property: on a centralized request (a pool key serves it) no credential the client sent reaches the
 * provider, whatever the header's case (a host middleware may set `req.headers['X-Api-Key']`; Node
 * itself lowercases), repetition (arrays, comma-joined values) or mention in `Connection`; and no
 * hop-by-hop or Connection-named header passes either way. Checked on `upstreamRequestHeaders` and
 * over real sockets, where the upstream must see the pool key and nothing of the client's.
 */
import { connect } from 'node:net'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { upstreamRequestHeaders } from '../src/headers.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const CREDENTIALS = ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key']
const HOP = ['x-aibridge-token', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'expect', 'host', 'cookie', 'forwarded', 'x-real-ip', 'content-length']
const OTHER = ['content-type', 'accept', 'anthropic-version', 'openai-organization', 'x-custom', 'x-forwarded-for', 'x-forwarded-host', 'user-agent', 'x-hop']

/** Each letter in upper or lower case, at random. */
const anyCase = (name: string) =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''))
const name = fc.constantFrom(...CREDENTIALS, ...HOP, ...OTHER).chain(anyCase)
const token = fc.stringMatching(/^[\x21-\x7e]{0,24}$/)
const value = fc.oneof(token, fc.array(token, { minLength: 1, maxLength: 3 }))
/** A Connection header naming any of the names, in any case, with stray commas and spaces. */
const connection = fc
  .tuple(fc.array(fc.oneof(name, fc.constantFrom('close', 'keep-alive', '', ' ')), { maxLength: 4 }), fc.constantFrom(',', ', ', ' ,'))
  .map(([names, sep]) => names.join(sep))
const headers = fc.tuple(fc.array(fc.tuple(name, value), { maxLength: 12 }), fc.option(fc.tuple(anyCase('connection'), connection))).map(([pairs, conn]) => {
  const h: Record<string, string | string[]> = {}
  for (const [n, v] of pairs) h[n] = v
  if (conn) h[conn[0]] = conn[1]
  return h
})

const namedIn = (h: Record<string, string | string[]>): Set<string> => {
  const out = new Set<string>()
  for (const [n, v] of Object.entries(h)) {
    if (n.toLowerCase() !== 'connection') continue
    for (const part of ([] as string[]).concat(v).join(',').split(',')) if (part.trim()) out.add(part.trim().toLowerCase())
  }
  return out
}

describe('upstreamRequestHeaders', () => {
  test('no client credential on a centralized request, no hop-by-hop or Connection-named header ever', () => {
    fc.assert(
      fc.property(headers, fc.boolean(), fc.boolean(), (incoming, centralized, dropEncoding) => {
        const out = upstreamRequestHeaders(incoming, centralized, dropEncoding)
        const named = namedIn(incoming)
        const lower = Object.keys(out).map((n) => n.toLowerCase())
        expect(new Set(lower).size, 'one entry per name').toBe(lower.length)
        for (const n of lower) {
          if (centralized) expect(CREDENTIALS).not.toContain(n)
          expect(HOP).not.toContain(n)
          expect(n.startsWith('x-forwarded-'), n).toBe(false)
          expect(named.has(n), `${n} is named in Connection`).toBe(false)
          if (dropEncoding) expect(n).not.toBe('content-encoding')
        }
        for (const v of Object.values(out)) expect(typeof v).toBe('string')
      }),
      { numRuns: 5000 },
    )
  })

  test('BYOK: the client credential passes, whatever its case, repeated values joined', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CREDENTIALS).chain(anyCase), value, (n, v) => {
        const out = upstreamRequestHeaders({ [n]: v }, false, false)
        expect(Object.entries(out)).toEqual([[n.toLowerCase(), ([] as string[]).concat(v).join(', ')]])
      }),
    )
  })
})

const h = harness()
const POOL = testKey('nc1')

/** Sends `head` (request line and header lines, CRLF-joined) and a small body over a raw socket; resolves with the status. */
function send(port: number, lines: string[], body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      // Not end(): Node's server takes a half-closed connection for a client that left.
      socket.write([...lines, `content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', body].join('\r\n'))
    })
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => (text += c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)))
  })
}

describe('over real sockets', () => {
  test('repeated credential headers in any case: the provider sees the pool key only', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [POOL], baseURL: h.up.url, byok: false } } })
    const clientSecret = fc.stringMatching(/^[A-Za-z0-9_-]{12,30}$/).map((s) => `client-${s}`)
    const credentialLine = fc.tuple(fc.constantFrom('authorization', 'x-api-key', 'api-key').chain(anyCase), fc.boolean(), clientSecret)
    await fc.assert(
      fc.asyncProperty(fc.array(credentialLine, { minLength: 1, maxLength: 6 }), async (creds) => {
        const before = h.up.requests.length
        const lines = ['POST /anthropic/v1/messages HTTP/1.1', 'host: x', 'content-type: application/json']
        for (const [n, bearer, secret] of creds) lines.push(`${n}: ${bearer ? 'Bearer ' : ''}${secret}`)
        expect(await send(b.port, lines, '{}')).toBe(200)
        const seen = h.up.requests[before]!
        const sent = JSON.stringify(seen.headers)
        for (const [, , secret] of creds) expect(sent).not.toContain(secret)
        expect(seen.headers['x-api-key']).toBe(POOL)
        expect(seen.headers.authorization).toBeUndefined()
      }),
      { numRuns: 60 },
    )
  })
})
