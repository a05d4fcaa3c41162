import type { IncomingMessage } from 'node:http'
import { describe, expect, test } from 'vitest'
import { post, raw } from '../../../test/support/http.js'
import { anthropicMessage, byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { until } from '../../../test/support/wait.js'
import { AibridgeOptionError, maskKey, statusPage, type Bridge, type StatusPageHandler, type StatusSnapshot } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('sp1')
const K2 = testKey('sp2')

/** A host app serving the status page at /status and the bridge everywhere else. */
async function withPage(authorize: Parameters<typeof statusPage>[1]['authorize'], next?: (err: unknown) => void) {
  let page!: StatusPageHandler
  const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url }, openai: { keys: [], baseURL: h.up.url } } }, (bridge) => {
    page = statusPage(bridge, { authorize })
    return (req, res) => {
      if (req.url?.startsWith('/status')) void page(req, res, next)
      else void bridge.handle(req, res)
    }
  })
  return { b, page }
}

const asJson = { accept: 'application/json' }

describe('statusPage', () => {
  test('JSON: key states and recent records, newest first, never a key', async () => {
    const { b } = await withPage('public')
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '30' }, 'anthropic'), [K2]: json(200, anthropicMessage()) }))
    await post(b.url, '/anthropic/v1/messages', { model: 'claude' })
    await post(b.url, '/anthropic/v1/messages', { model: 'claude' })
    await b.waitForRecords(2)
    const before = Date.now()
    const res = await raw(b.url, '/status', { headers: asJson })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.headers['cache-control']).toBe('no-store')
    const snapshot = res.json<StatusSnapshot>()
    expect(snapshot.keys).toEqual(b.bridge.keyStates())
    expect(snapshot.keys.anthropic!.map((k) => [k.hint, k.state])).toEqual([
      [maskKey(K1), 'temporary'],
      [maskKey(K2), 'valid'],
    ])
    expect(snapshot.recent.map((r) => r.id)).toEqual([b.records[1]!.id, b.records[0]!.id])
    expect(snapshot.recent[1]).toMatchObject({ outcome: 'ok', keysTried: [maskKey(K1), maskKey(K2)] })
    expect(snapshot.now).toBeGreaterThanOrEqual(before)
    expect(res.text).not.toContain(K1)
    expect(res.text).not.toContain(K2)
    // curl's Accept: */* gets JSON too.
    expect((await raw(b.url, '/status', { headers: { accept: '*/*' } })).json<StatusSnapshot>().recent).toHaveLength(2)
  })

  test('keeps the last 100 requests', async () => {
    const { b } = await withPage('public')
    h.up.handle(json(200, {}))
    for (let i = 0; i < 105; i++) await post(b.url, '/anthropic/v1/messages', {})
    await b.waitForRecords(105)
    const { recent } = (await raw(b.url, '/status', { headers: asJson })).json<StatusSnapshot>()
    expect(recent).toHaveLength(100)
    expect(recent[0]!.id).toBe(b.records[104]!.id)
    expect(recent[99]!.id).toBe(b.records[5]!.id)
  })

  test('a browser gets the self-contained page, with a nonce-locked CSP', async () => {
    const { b } = await withPage('public')
    const res = await raw(b.url, '/status', { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    const csp = String(res.headers['content-security-policy'])
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1]!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("connect-src 'self'")
    expect(res.text).toContain(`<script nonce="${nonce}">`)
    expect(res.text).toContain(`<style nonce="${nonce}">`)
    // No external assets: nothing is loaded from anywhere but the page itself.
    expect(res.text).not.toMatch(/\b(src|href)="(?!data:)/)
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    const again = await raw(b.url, '/status', { headers: { accept: 'text/html' } })
    expect(again.headers['content-security-policy']).not.toBe(csp)
  })

  test('authorize decides, sync or async; a refusal is a 403 in JSON', async () => {
    const asked: IncomingMessage[] = []
    const { b } = await withPage(async (req) => {
      asked.push(req)
      return req.headers['x-operator'] === 'yes'
    })
    const refused = await raw(b.url, '/status', { headers: asJson })
    expect(refused.status).toBe(403)
    expect(refused.json()).toEqual({ error: { type: 'forbidden', message: 'aibridge: not authorized to see the status page' } })
    const html = await raw(b.url, '/status', { headers: { accept: 'text/html' } })
    expect(html.status).toBe(403)
    expect(html.headers['content-type']).toBe('application/json; charset=utf-8')
    expect((await raw(b.url, '/status', { headers: { ...asJson, 'x-operator': 'yes' } })).status).toBe(200)
    expect(asked).toHaveLength(3)
    // Only true admits: a truthy value that is not true is a refusal.
    const { b: b2 } = await withPage(() => 'yes' as unknown as boolean)
    expect((await raw(b2.url, '/status', { headers: asJson })).status).toBe(403)
  })

  test('an authorize that throws goes to next(err), or is a 500 without next', async () => {
    const errors: unknown[] = []
    const { b } = await withPage(
      () => {
        throw new Error('session store down')
      },
      (err) => errors.push(err),
    )
    const { b: b2 } = await withPage(() => Promise.reject(new Error('session store down')))
    const pending = raw(b.url, '/status', { headers: asJson })
    await until(() => errors.length === 1)
    expect((errors[0] as Error).message).toBe('session store down')
    pending.catch(() => {})
    const res = await raw(b2.url, '/status', { headers: asJson })
    expect(res.status).toBe(500)
    expect(res.text).not.toContain('session store')
  })

  test('GET and HEAD only', async () => {
    const { b } = await withPage('public')
    const res = await raw(b.url, '/status', { method: 'POST', headers: asJson, body: '{}' })
    expect(res.status).toBe(405)
    expect(res.headers.allow).toBe('GET, HEAD')
    const head = await raw(b.url, '/status', { method: 'HEAD', headers: asJson })
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
  })

  test('authorize is required; other options are refused', async () => {
    const { b } = await withPage('public')
    const bridge: Bridge = b.bridge
    expect(() => statusPage(bridge, undefined as never)).toThrow(AibridgeOptionError)
    expect(() => statusPage(bridge, {} as never)).toThrow(/needs \{ authorize \}.*'public'/)
    expect(() => statusPage(bridge, { authorize: true } as never)).toThrow(/got true/)
    expect(() => statusPage(bridge, { authorize: 'Public' } as never)).toThrow(AibridgeOptionError)
    expect(() => statusPage(bridge, { authorize: 'public', refreshMs: 5 } as never)).toThrow(/"refreshMs" is not an option/)
    expect(() => statusPage({} as Bridge, { authorize: 'public' })).toThrow(/takes a Bridge/)
  })

  test('stop() ends the subscription: later requests are not remembered', async () => {
    const { b, page } = await withPage('public')
    h.up.handle(json(200, {}))
    await post(b.url, '/anthropic/v1/messages', {})
    await b.waitForRecords(1)
    page.stop()
    await post(b.url, '/anthropic/v1/messages', {})
    await b.waitForRecords(2)
    expect((await raw(b.url, '/status', { headers: asJson })).json<StatusSnapshot>().recent).toHaveLength(1)
  })
})
