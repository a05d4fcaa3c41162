import { request } from 'node:http'
import { describe, expect, test } from 'vitest'
import { startSimulator } from '../src/index.js'
import { A_KEY, anthropicClient, O_KEY, openaiClient, sleep, useSimulator } from './helpers/sim.js'

const h = useSimulator()

describe('what the simulator records', () => {
  test('method, path, query, headers, key and the body bytes exactly as sent', async () => {
    const body = Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"ünïcødé ✓ '), Buffer.from('"}]}')])
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/chat/completions?api-version=2024&flag`, {
      method: 'POST',
      headers: { authorization: `Bearer ${O_KEY}`, 'x-custom': 'kept', 'content-type': 'application/json' },
      body,
    })
    expect(await res.json()).toMatchObject({ choices: [{ message: { content: 'Simulated reply to: ünïcødé ✓ ' } }] })
    const [r] = h.sim.requests
    expect(r).toMatchObject({ provider: 'openai', method: 'POST', path: '/v1/chat/completions', query: 'api-version=2024&flag', key: O_KEY, status: 200 })
    expect(r!.headers['x-custom']).toBe('kept')
    expect(r!.body.equals(body)).toBe(true)
  })

  test('ids count up in arrival order and keep counting after reset()', async () => {
    await anthropicClient(h.sim).models.list()
    await openaiClient(h.sim).models.list()
    const [a, b] = h.sim.requests
    expect(b!.id).toBe(a!.id + 1)
    h.sim.reset()
    await anthropicClient(h.sim).models.list()
    expect(h.sim.requests).toHaveLength(1)
    expect(h.sim.requests[0]!.id).toBe(b!.id + 1)
  })

  test('waitFor resolves for a request already there, or one still to come, and rejects on timeout', async () => {
    await openaiClient(h.sim).models.list()
    await expect(h.sim.waitFor((r) => r.provider === 'openai')).resolves.toMatchObject({ path: '/v1/models' })

    const later = h.sim.waitFor((r) => r.provider === 'anthropic' && r.status === 200, 2000)
    await sleep(50)
    await anthropicClient(h.sim).models.list()
    await expect(later).resolves.toMatchObject({ provider: 'anthropic', status: 200 })

    await expect(h.sim.waitFor((r) => r.path === '/nowhere', 100)).rejects.toThrow(/no matching request .* within 100 ms/)
  })
})

describe('server options and lifecycle', () => {
  test('eventDelayMs spaces the SSE events out', async () => {
    const sim = await startSimulator({ eventDelayMs: 40 })
    try {
      const stream = await anthropicClient(sim).messages.create({ model: 'm', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'slowly' }] })
      const times: number[] = []
      for await (const _ of stream) times.push(Date.now())
      // 10 events, 9 of which reach the SDK (it hides the ping): 9 delays between the first and the last.
      expect(times.length).toBe(9)
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(9 * 40 - 30)
    } finally {
      await sim.close()
    }
  })

  test('close() ends stalled connections too, and the port is free afterwards', async () => {
    const sim = await startSimulator()
    sim.fault(A_KEY, { kind: 'stall' })
    const stream = await anthropicClient(sim).messages.create({ model: 'm', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'x' }] })
    const reading = (async () => {
      for await (const _ of stream) void _
    })()
    await sim.waitFor((r) => r.status === 200)
    const t0 = Date.now()
    await sim.close()
    expect(Date.now() - t0).toBeLessThan(1000)
    await expect(reading).rejects.toThrow()
    // Closing by the simulator is not a client abort.
    expect(sim.requests[0]!.aborted).toBe(false)
    await expect(fetch(`${sim.url}/openai/v1/models`)).rejects.toThrow()
  })

  test('listens on 127.0.0.1 and reports its URLs', () => {
    expect(h.sim.url).toBe(`http://127.0.0.1:${h.sim.port}`)
    expect(h.sim.port).toBeGreaterThan(0)
    expect(h.sim.anthropicBaseURL).toBe(`${h.sim.url}/anthropic`)
    expect(h.sim.openaiBaseURL).toBe(`${h.sim.url}/openai`)
    expect(h.sim.geminiBaseURL).toBe(`${h.sim.url}/gemini`)
    expect(h.sim.azureBaseURL).toBe(`${h.sim.url}/azure`)
  })

  test('bad options are refused up front, naming the option', async () => {
    await expect(startSimulator({ port: -1 })).rejects.toThrow(/options\.port must be an integer from 0 to 65535, got -1/)
    await expect(startSimulator({ port: '80' } as never)).rejects.toThrow(/options\.port must be an integer from 0 to 65535, got "80"/)
    await expect(startSimulator({ prot: 1 } as never)).rejects.toThrow(/unknown option prot \(known: port, host, eventDelayMs, validKeys\)/)
    await expect(startSimulator({ eventDelayMs: Number.NaN })).rejects.toThrow(/options\.eventDelayMs/)
    await expect(startSimulator({ validKeys: ['ok', ''] })).rejects.toThrow(/options\.validKeys\[1\]/)
    await expect(startSimulator({ validKeys: { anthropic: ['ok'], mistral: ['k'] } as never })).rejects.toThrow(/options\.validKeys\.mistral: unknown provider/)
    await expect(startSimulator({ validKeys: { openai: 'k' } as never })).rejects.toThrow(/options\.validKeys\.openai must be an array of strings/)
    await expect(startSimulator({ validKeys: 'k' as never })).rejects.toThrow(/options\.validKeys must be an array of strings, or an object/)
  })

  test('a client that hangs up mid-upload is recorded as aborted', async () => {
    const { hostname, port } = new URL(h.sim.url)
    const req = request({ host: hostname, port, method: 'POST', path: '/openai/v1/chat/completions', headers: { authorization: `Bearer ${O_KEY}`, 'content-length': '1000' } })
    req.on('error', () => {})
    req.write('{"model":')
    await sleep(50)
    req.destroy()
    const seen = await h.sim.waitFor((r) => r.aborted)
    expect(seen.body.toString()).toBe('{"model":')
    expect(seen.status).toBe(0)
  })
})
