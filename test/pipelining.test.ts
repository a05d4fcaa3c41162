/**
 * Issue 15: HTTP/1.1 pipelining (two requests in one write, before any answer) on every mount. Node
 * never emits 'close' on a response still queued behind its predecessor when the client hangs up, so
 * the bridge once counted such a request in flight forever: its record never came and `close()`
 * never resolved. Every request the bridge accepts must end exactly once, however its connection ends.
 */
import { createBridge, type Bridge, type InterceptionRecord } from '@aibridge/core'
import { beforeEach, describe, expect, it } from 'vitest'
import { mounts } from './mounts/index.js'
import { fixture } from './support/fixture.js'
import { pipelined, postBytes, type PipelinedClient } from './support/pipeline.js'
import { dieAfter, hang, json, type Script, type Seen } from './support/upstream.js'
import { gate, sleep, until, within } from './support/wait.js'

const KEY = 'sk-proj-PIPELINING-PRIMARY-aaaa1111'
const FIRST = '/v1/chat/completions'
const SECOND = '/v1/embeddings'
// A generous bound on "eventually": a regression hangs forever, a healthy run takes milliseconds.
const PROMPTLY = 5000

const t = fixture()

/** Answers each upstream path with its own script. */
function byPath(scripts: Record<string, Script>): Script {
  return (seen, res, req) => scripts[seen.url]!(seen, res, req)
}

/** An answer that comes `ms` after the request, once `after` (if given) has resolved too. */
function answerAfter(ms: number, after?: Promise<void>): Script {
  return async (seen, res, req) => {
    await Promise.all([sleep(ms), after])
    if (!res.destroyed) await json(200, { object: 'list', data: [] })(seen, res, req)
  }
}

describe.each(mounts.map((m) => [m.name, m] as const))('pipelining on %s', (_name, mount) => {
  let bridge: Bridge
  let records: InterceptionRecord[]
  let base: string
  let prefix: string

  beforeEach(async () => {
    records = []
    bridge = t.own(createBridge({ providers: { openai: { keys: [KEY], baseURL: t.up.url } }, onInterception: (r) => records.push(r) }))
    // No host body parser: the bridge reads each body itself (a half-written one included).
    const mounted = t.host(await mount.start(bridge, { prefix: '/ai', hostParser: false, bodyLimit: 32 * 1024 * 1024 }))
    const url = new URL(mounted.baseURL)
    base = url.origin
    prefix = url.pathname
  })

  const pair = (): string => postBytes(`${prefix}/openai${FIRST}`) + postBytes(`${prefix}/openai${SECOND}`)

  function recordOf(path: string): InterceptionRecord {
    const found = records.filter((r) => r.path === path)
    expect(found, `records for ${path}`).toHaveLength(1)
    return found[0]!
  }

  function upstreamSeen(path: string): Seen {
    const seen = t.up.requests.find((s) => s.url === path)
    expect(seen, `upstream request ${path}`).toBeDefined()
    return seen!
  }

  /** Both records arrive, `close()` resolves, and no third record ever comes. */
  async function bothEndAndCloseResolves(): Promise<void> {
    await until(() => records.length >= 2, PROMPTLY, () => `2 records, got ${records.length}`)
    await within(bridge.close(), PROMPTLY, 'bridge.close()')
    expect(records).toHaveLength(2)
  }

  async function hangUpAndWait(client: PipelinedClient): Promise<void> {
    client.hangUp()
    await client.closed
  }

  it('answers a pipelined pair in order, one record each', async () => {
    t.up.handle(answerAfter(50))
    const client = await pipelined(base, pair())
    await until(() => client.statuses().length === 2, PROMPTLY, () => `two answers, got ${JSON.stringify(client.received())}`)
    expect(client.statuses()).toEqual([200, 200])
    await bothEndAndCloseResolves()
    expect(recordOf(FIRST)).toMatchObject({ outcome: 'ok', status: 200 })
    expect(recordOf(SECOND)).toMatchObject({ outcome: 'ok', status: 200 })
    client.hangUp()
  })

  it('healthy upstream (50 ms), client hangs up before the answers: both end client_aborted and close() resolves', async () => {
    const left = gate()
    t.up.handle(answerAfter(50, left.promise))
    const client = await pipelined(base, pair())
    await t.up.waitFor(2)
    await hangUpAndWait(client)
    left.open()
    await bothEndAndCloseResolves()
    expect(recordOf(FIRST)).toMatchObject({ outcome: 'client_aborted', status: null })
    expect(recordOf(SECOND)).toMatchObject({ outcome: 'client_aborted', status: null })
    // Nothing left open upstream.
    await within(Promise.all(t.up.requests.map((s) => s.closed)), PROMPTLY, 'upstream exchanges closed')
  })

  it('both answers still coming when the client hangs up: both upstream requests are aborted', async () => {
    t.up.handle(hang)
    const client = await pipelined(base, pair())
    await t.up.waitFor(2)
    await hangUpAndWait(client)
    for (const path of [FIRST, SECOND]) {
      const seen = upstreamSeen(path)
      await within(seen.closed, PROMPTLY, `upstream ${path} closed`)
      expect(seen.aborted, path).toBe(true)
    }
    await bothEndAndCloseResolves()
    expect(recordOf(FIRST).outcome).toBe('client_aborted')
    expect(recordOf(SECOND).outcome).toBe('client_aborted')
  })

  it('slow first answer, client hangs up while the second answer waits behind it: both client_aborted, the first upstream request aborted', async () => {
    t.up.handle(byPath({ [FIRST]: hang, [SECOND]: answerAfter(0) }))
    const client = await pipelined(base, pair())
    await t.up.waitFor(2)
    await within(upstreamSeen(SECOND).closed, PROMPTLY, 'second answer sent')
    // Give the bridge a moment to queue the second answer behind the first (setup, not an assertion).
    await sleep(20)
    expect(client.statuses()).toEqual([])
    await hangUpAndWait(client)
    const first = upstreamSeen(FIRST)
    await within(first.closed, PROMPTLY, 'first upstream request closed')
    expect(first.aborted).toBe(true)
    await bothEndAndCloseResolves()
    expect(recordOf(FIRST)).toMatchObject({ outcome: 'client_aborted', status: null })
    expect(recordOf(SECOND).outcome).toBe('client_aborted')
  })

  it('cut second answer, client reads on: the first answer arrives whole, the second ends truncated and the connection is cut', async () => {
    const release = gate()
    t.up.handle(byPath({ [FIRST]: answerAfter(0, release.promise), [SECOND]: dieAfter({ 'content-type': 'application/json' }, '{"object":"li') }))
    const client = await pipelined(base, pair())
    await t.up.waitFor(2)
    await within(upstreamSeen(SECOND).closed, PROMPTLY, 'second answer cut')
    release.open()
    await within(client.closed, PROMPTLY, 'the connection closed by the server')
    expect(client.statuses()).toEqual([200])
    expect(client.received()).toContain('{"object":"list","data":[]}')
    await bothEndAndCloseResolves()
    expect(recordOf(FIRST)).toMatchObject({ outcome: 'ok', status: 200 })
    expect(recordOf(SECOND).outcome).toBe('truncated')
  })

  it('cut second answer, client hangs up before the first: first client_aborted and aborted upstream, second truncated', async () => {
    t.up.handle(byPath({ [FIRST]: hang, [SECOND]: dieAfter({ 'content-type': 'application/json' }, '{"object":"li') }))
    const client = await pipelined(base, pair())
    await t.up.waitFor(2)
    await within(upstreamSeen(SECOND).closed, PROMPTLY, 'second answer cut')
    // The bridge sees the cut only after the provider's connection closed (setup, not an assertion).
    await sleep(20)
    await hangUpAndWait(client)
    const first = upstreamSeen(FIRST)
    await within(first.closed, PROMPTLY, 'first upstream request closed')
    expect(first.aborted).toBe(true)
    await bothEndAndCloseResolves()
    expect(recordOf(FIRST).outcome).toBe('client_aborted')
    expect(recordOf(SECOND).outcome).toBe('truncated')
  })

  it('half-written second request, client hangs up: both end client_aborted, the first upstream request aborted, the second never sent', async () => {
    t.up.handle(hang)
    const second = postBytes(`${prefix}/openai${SECOND}`, JSON.stringify({ model: 'x', input: 'y'.repeat(200) }))
    const client = await pipelined(base, postBytes(`${prefix}/openai${FIRST}`) + second.slice(0, -100))
    await t.up.waitFor(1)
    await hangUpAndWait(client)
    const first = upstreamSeen(FIRST)
    await within(first.closed, PROMPTLY, 'first upstream request closed')
    expect(first.aborted).toBe(true)
    await bothEndAndCloseResolves()
    expect(recordOf(FIRST).outcome).toBe('client_aborted')
    expect(recordOf(SECOND)).toMatchObject({ outcome: 'client_aborted', status: null, attempts: 0 })
    expect(t.up.requests.map((s) => s.url)).toEqual([FIRST])
  })
})
