/**
 * What the real APIs refuse, so a mistake shows against the simulator as it would in production:
 * a key the provider never issued (`validKeys`), and an Anthropic request without `anthropic-version`.
 */
import Anthropic from '@anthropic-ai/sdk'
import { ApiError } from '@google/genai'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startSimulator, type Simulator } from '../src/index.js'
import { A_HEADERS, A_KEY, anthropicClient, azureClient, G_KEY, geminiClient, O_KEY, openaiClient, useSimulator, Z_KEY } from './helpers/sim.js'

const WRONG = 'sk-placeholder-never-issued'

describe('validKeys: a key the provider never issued gets its invalid-key error', () => {
  let sim: Simulator
  beforeAll(async () => {
    sim = await startSimulator({ validKeys: { anthropic: [A_KEY], openai: [O_KEY], gemini: [G_KEY], azure: [Z_KEY] } })
  })
  afterAll(async () => {
    await sim.close()
  })

  test('Anthropic and OpenAI: 401, raised by each SDK as its AuthenticationError; issued keys are served', async () => {
    const a = await anthropicClient(sim, { apiKey: WRONG }).messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)
    expect(a).toBeInstanceOf(Anthropic.AuthenticationError)
    expect((a as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } })
    const o = await openaiClient(sim, { apiKey: WRONG }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)
    expect(o).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((o as InstanceType<typeof OpenAI.APIError>).code).toBe('invalid_api_key')

    const ok = await anthropicClient(sim).messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'valid' }] })
    expect(ok.content[0]).toMatchObject({ text: 'Simulated reply to: valid' })
    expect((await openaiClient(sim).models.list()).data.length).toBeGreaterThan(0)
  })

  test("Gemini: 400 API_KEY_INVALID; Azure: 401 in Azure's shape", async () => {
    const g = await geminiClient(sim, WRONG).models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }).catch((e: unknown) => e)
    expect(g).toBeInstanceOf(ApiError)
    expect((g as ApiError).status).toBe(400)
    expect((g as ApiError).message).toContain('API_KEY_INVALID')
    const z = await azureClient(sim, { apiKey: WRONG }).chat.completions.create({ model: '', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)
    expect(z).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((z as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ code: '401', message: expect.stringMatching(/invalid subscription key/) })
  })

  test('a key issued for one provider is refused by another', async () => {
    const res = await fetch(`${sim.openaiBaseURL}/v1/models`, { headers: { authorization: `Bearer ${A_KEY}` } })
    expect(res.status).toBe(401)
  })

  test('the refusal carries the same headers as a scripted unauthorized fault, and no part of the key', async () => {
    const send = (key: string) => fetch(`${sim.anthropicBaseURL}/v1/messages`, { method: 'POST', headers: { ...A_HEADERS, 'x-api-key': key }, body: '{}' })
    sim.fault(A_KEY, { kind: 'unauthorized' }, { times: 1 })
    const scripted = await send(A_KEY)
    const refused = await send(WRONG)
    expect([scripted.status, refused.status]).toEqual([401, 401])
    const names = (res: Response) => [...res.headers.keys()].filter((n) => n !== 'date' && n !== 'content-length').sort()
    expect(names(refused)).toEqual(names(scripted))
    expect(refused.headers.get('request-id')).toMatch(/^req_sim_\d+$/)
    expect(refused.headers.get('x-should-retry')).toBe('false')
    const [scriptedBody, refusedBody] = [await scripted.json(), await refused.json()] as { request_id: string }[]
    expect({ ...refusedBody, request_id: 'x' }).toEqual({ ...scriptedBody, request_id: 'x' })
    expect(JSON.stringify(refusedBody)).not.toContain('placeholder')
    expect(sim.requests.at(-1)).toMatchObject({ key: WRONG, status: 401, fault: null })
  })

  test('a list (not by provider) applies to every provider; a provider an object leaves out takes any key', async () => {
    const list = await startSimulator({ validKeys: [A_KEY, O_KEY] })
    const partial = await startSimulator({ validKeys: { anthropic: [A_KEY] } })
    try {
      expect((await fetch(`${list.openaiBaseURL}/v1/models`, { headers: { authorization: `Bearer ${A_KEY}` } })).status).toBe(200)
      expect((await fetch(`${list.openaiBaseURL}/v1/models`, { headers: { authorization: `Bearer ${WRONG}` } })).status).toBe(401)
      expect((await fetch(`${partial.openaiBaseURL}/v1/models`, { headers: { authorization: `Bearer ${WRONG}` } })).status).toBe(200)
      expect((await fetch(`${partial.anthropicBaseURL}/v1/models`, { headers: { ...A_HEADERS, 'x-api-key': WRONG } })).status).toBe(401)
    } finally {
      await Promise.all([list.close(), partial.close()])
    }
  })
})

describe('Anthropic requires anthropic-version', () => {
  const h = useSimulator()

  test('without it: the real 400 invalid_request_error "anthropic-version: header is required"', async () => {
    const res = await fetch(`${h.sim.anthropicBaseURL}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': A_KEY },
      body: JSON.stringify({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('request-id')).toMatch(/^req_sim_/)
    expect(await res.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
      request_id: expect.stringMatching(/^req_sim_/),
    })
    const models = await fetch(`${h.sim.anthropicBaseURL}/v1/models`, { headers: { 'x-api-key': A_KEY } })
    expect(models.status).toBe(400)
  })

  test('the SDK sends it, so an SDK client is served; a client that strips it gets the 400 as BadRequestError', async () => {
    await anthropicClient(h.sim).models.list()
    const stripped = new Anthropic({ baseURL: h.sim.anthropicBaseURL, apiKey: A_KEY, maxRetries: 0, defaultHeaders: { 'anthropic-version': null } })
    await expect(stripped.models.list()).rejects.toBeInstanceOf(Anthropic.BadRequestError)
    expect(h.sim.requests.map((r) => r.status)).toEqual([200, 400])
  })
})
