import OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import { A_HEADERS, A_KEY, anthropicClient, O_KEY, openaiClient, sleep, useSimulator } from './helpers/sim.js'

const h = useSimulator()

const params = (text: string) => ({ model: 'claude-sim-1', max_tokens: 16, messages: [{ role: 'user' as const, content: text }] })

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0
  for await (const _ of stream) n++
  return n
}

describe('slow_first_byte', () => {
  test('holds the response headers for `ms`, then answers normally', async () => {
    h.sim.fault(A_KEY, { kind: 'slow_first_byte', ms: 300 })
    const t0 = Date.now()
    const res = await fetch(`${h.sim.anthropicBaseURL}/v1/messages`, { method: 'POST', headers: A_HEADERS, body: JSON.stringify(params('slow')) })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { content: { text: string }[] }).content[0]!.text).toBe('Simulated reply to: slow')
    expect(h.sim.requests[0]).toMatchObject({ fault: 'slow_first_byte', status: 200 })
  })

  test('the request is already recorded, with status 0, while the headers are held', async () => {
    h.sim.fault(O_KEY, { kind: 'slow_first_byte', ms: 400 })
    const pending = openaiClient(h.sim).chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: 'wait' }] })
    const seen = await h.sim.waitFor((r) => r.key === O_KEY)
    expect(seen.status).toBe(0)
    await pending
    expect(seen.status).toBe(200)
  })
})

describe('die_mid_stream', () => {
  test('Anthropic stream: the SDK gets the first events, then raises an error', async () => {
    h.sim.fault(A_KEY, { kind: 'die_mid_stream', afterEvents: 2 })
    const stream = await anthropicClient(h.sim).messages.create({ ...params('die'), stream: true })
    const types: string[] = []
    await expect(
      (async () => {
        for await (const event of stream) types.push(event.type)
      })(),
    ).rejects.toThrow()
    expect(types).toEqual(['message_start', 'content_block_start'])
    expect(h.sim.requests[0]).toMatchObject({ fault: 'die_mid_stream', status: 200, aborted: false })
  })

  test('Anthropic messages.stream(): finalMessage rejects', async () => {
    h.sim.fault(A_KEY, { kind: 'die_mid_stream', afterEvents: 4 })
    const stream = anthropicClient(h.sim).messages.stream(params('die helper'))
    const texts: string[] = []
    stream.on('text', (t) => texts.push(t))
    await expect(stream.finalMessage()).rejects.toThrow()
    // message_start, content_block_start, ping, then one delta.
    expect(texts).toEqual(['Simulated '])
  })

  test('OpenAI chat and responses streams raise an error after `afterEvents` events (default 2)', async () => {
    const client = openaiClient(h.sim)
    h.sim.fault(O_KEY, { kind: 'die_mid_stream' })
    const chat = await client.chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: 'die' }] })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    await expect(
      (async () => {
        for await (const chunk of chat) chunks.push(chunk)
      })(),
    ).rejects.toThrow()
    expect(chunks.map((c) => c.choices[0]!.delta)).toEqual([{ role: 'assistant', content: '', refusal: null }, { content: 'Simulated ' }])

    const responses = await client.responses.create({ model: 'gpt-sim', stream: true, input: 'die' })
    const types: string[] = []
    await expect(
      (async () => {
        for await (const event of responses) types.push(event.type)
      })(),
    ).rejects.toThrow()
    expect(types).toEqual(['response.created', 'response.in_progress'])
    await expect(client.responses.stream({ model: 'gpt-sim', input: 'die' }).finalResponse()).rejects.toThrow()
  })

  test('not streaming: full content-length, half the body, then the socket dies', async () => {
    h.sim.fault(O_KEY, { kind: 'die_mid_stream' }, { times: 1 })
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${O_KEY}` },
      body: JSON.stringify({ model: 'gpt-sim', messages: [{ role: 'user', content: 'half' }] }),
    })
    expect(res.status).toBe(200)
    const length = Number(res.headers.get('content-length'))
    expect(length).toBeGreaterThan(100)
    const reader = res.body!.getReader()
    let received = 0
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) return
          received += value.byteLength
        }
      })(),
    ).rejects.toThrow()
    expect(received).toBe(Math.floor(length / 2))

    h.sim.fault(A_KEY, { kind: 'die_mid_stream' }, { times: 1 })
    await expect(anthropicClient(h.sim).messages.create(params('sdk half'))).rejects.toThrow()
  })
})

describe('stall and release', () => {
  test('a stalled stream sends `afterEvents` events, waits, and finishes normally on release()', async () => {
    h.sim.fault(A_KEY, { kind: 'stall', afterEvents: 3 })
    const stream = anthropicClient(h.sim).messages.stream(params('stall me'))
    const events: string[] = []
    stream.on('streamEvent', (e) => events.push(e.type))
    const final = stream.finalMessage()
    const req = await h.sim.waitFor((r) => r.key === A_KEY && r.status === 200)
    await sleep(200)
    // The ping is the third event; the SDK does not surface it.
    expect(events).toEqual(['message_start', 'content_block_start'])
    expect(req.aborted).toBe(false)
    h.sim.release()
    const message = await final
    expect(message.content).toEqual([{ type: 'text', text: 'Simulated reply to: stall me' }])
    expect(events.at(-1)).toBe('message_stop')
    expect(req.aborted).toBe(false)
  })

  test('a stalled non-streaming answer sends its headers and holds the body until release()', async () => {
    h.sim.fault(O_KEY, { kind: 'stall' })
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${O_KEY}` },
      body: JSON.stringify({ model: 'gpt-sim', messages: [{ role: 'user', content: 'held' }] }),
    })
    expect(res.status).toBe(200)
    let settled = false
    const body = res.json().finally(() => (settled = true)) as Promise<{ choices: { message: { content: string } }[] }>
    await sleep(200)
    expect(settled).toBe(false)
    h.sim.release()
    expect((await body).choices[0]!.message.content).toBe('Simulated reply to: held')
  })

  test('release() lets every stalled response go, and a later stall waits again', async () => {
    h.sim.fault(A_KEY, { kind: 'stall', afterEvents: 0 })
    const client = anthropicClient(h.sim)
    const finals = [client.messages.stream(params('one')).finalMessage(), client.messages.stream(params('two')).finalMessage()]
    await h.sim.waitFor((r) => r.id === h.sim.requests[0]?.id && r.status === 200)
    await h.sim.waitFor((r) => r.id === h.sim.requests[1]?.id && r.status === 200)
    h.sim.release()
    const texts = (await Promise.all(finals)).map((m) => (m.content[0] as { text: string }).text)
    expect(texts.sort()).toEqual(['Simulated reply to: one', 'Simulated reply to: two'])

    let done = false
    const third = client.messages.stream(params('three')).finalMessage().finally(() => (done = true))
    await h.sim.waitFor((r) => r.id === h.sim.requests[2]?.id && r.status === 200)
    await sleep(150)
    expect(done).toBe(false)
    h.sim.release()
    await third
  })
})

describe('abort detection', () => {
  test('waitForAbort resolves when the client gives up on a stalled stream', async () => {
    h.sim.fault(A_KEY, { kind: 'stall', afterEvents: 1 })
    const controller = new AbortController()
    const stream = await anthropicClient(h.sim).messages.create({ ...params('abort me'), stream: true }, { signal: controller.signal })
    const iterator = stream[Symbol.asyncIterator]()
    expect((await iterator.next()).value).toMatchObject({ type: 'message_start' })
    const req = h.sim.requests[0]!
    expect(req.aborted).toBe(false)
    const t0 = Date.now()
    controller.abort()
    await h.sim.waitForAbort(req.id, 2000)
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(req.aborted).toBe(true)
    // The SDK ends an aborted stream quietly.
    expect((await iterator.next()).done).toBe(true)
  })

  test('a client that disconnects while the first byte is slow counts as aborted', async () => {
    h.sim.fault(O_KEY, { kind: 'slow_first_byte', ms: 2000 })
    const client = openaiClient(h.sim)
    const call = client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: 'x' }] }, { timeout: 200 })
    await expect(call).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError)
    const req = await h.sim.waitFor((r) => r.key === O_KEY)
    await h.sim.waitForAbort(req.id, 1000)
    expect(req.status).toBe(0)
  })

  test('a completed request, or one the simulator killed itself, is not aborted: waitForAbort times out', async () => {
    await anthropicClient(h.sim).messages.create(params('fine'))
    await expect(h.sim.waitForAbort(h.sim.requests[0]!.id, 150)).rejects.toThrow(/was not aborted/)

    h.sim.fault(A_KEY, { kind: 'die_mid_stream' }, { times: 1 })
    await expect(drain(await anthropicClient(h.sim).messages.create({ ...params('die'), stream: true }))).rejects.toThrow()
    await expect(h.sim.waitForAbort(h.sim.requests[1]!.id, 150)).rejects.toThrow(/was not aborted/)
    expect(h.sim.requests.map((r) => r.aborted)).toEqual([false, false])
  })
})
