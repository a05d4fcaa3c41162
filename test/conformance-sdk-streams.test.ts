/**
 * Conformance (issue 12, part 2): the official SDKs, used as their docs show, through a provider
 * stream that dies mid-way, on every mount. The bridge ends the stream in the API's own error form,
 * and each SDK raises it with the bridge's message: `openai` (Chat and Responses, `stream: true` and
 * the `.stream()` helpers), `@anthropic-ai/sdk` (`stream: true` and `messages.stream()`),
 * `@google/genai` (`generateContentStream`), and the Vercel AI SDK's `streamText` with `@ai-sdk/openai` (Responses and Chat) and `@ai-sdk/anthropic`,
 * where the cut is an error part and never a TypeValidationError, a JSON parse error or a clean
 * finish. Across a failover at the stream's first event, each just gets a normal stream.
 */
import { createAnthropic } from '@ai-sdk/anthropic'
import { createOpenAI } from '@ai-sdk/openai'
import Anthropic from '@anthropic-ai/sdk'
import { ApiError } from '@google/genai'
import { JSONParseError, streamText, TypeValidationError, type LanguageModel } from 'ai'
import OpenAI from 'openai'
import { expect } from 'vitest'
import { anthropicClient, geminiClient, openaiClient } from './support/clients.js'
import { A1, A2, conformance, G1, G2, O1, O2, type Ctx, type Scenario } from './support/conformance.js'

// The AI SDK warns on the console about the simulator's unknown model names.
;(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false

const PROMPT = 'one two three four five six seven eight'
const REPLY = `Simulated reply to: ${PROMPT}`
const BRIDGE_MESSAGE = /ended unexpectedly/

/** What a client got from one call: the text it read, and what it raised (or the AI SDK's error parts). */
interface Outcome {
  text: string
  errors: unknown[]
  /** The AI SDK's finish part, when one came. */
  finishReason?: string
}

interface Client {
  name: string
  keys: readonly [string, string]
  call(ctx: Ctx): Promise<Outcome>
  /** The SDK's own error class, for the SDKs that raise one. */
  raises?: abstract new (...args: never[]) => Error
}

/** Runs `read` to its end; what it threw is the outcome's error. */
async function settle(read: (append: (t: string) => void) => Promise<void>): Promise<Outcome> {
  let text = ''
  try {
    await read((t) => (text += t))
    return { text, errors: [] }
  } catch (err) {
    return { text, errors: [err] }
  }
}

const openaiSdk = (ctx: Ctx): OpenAI => openaiClient(ctx.url('openai', '/v1'))
const anthropicSdk = (ctx: Ctx): Anthropic => anthropicClient(ctx.url('anthropic'))

/** A fetch that drops one header: the AI SDK providers insist on a key, and the pool serves a request without one. */
function withoutHeader(name: string): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers)
    headers.delete(name)
    return fetch(input, { ...init, headers })
  }
}

const aiOpenAI = (ctx: Ctx) => createOpenAI({ baseURL: ctx.url('openai', '/v1'), apiKey: 'unused', fetch: withoutHeader('authorization') })
const aiAnthropic = (ctx: Ctx) => createAnthropic({ baseURL: ctx.url('anthropic', '/v1'), apiKey: 'unused', fetch: withoutHeader('x-api-key') })

async function streamTextOutcome(model: LanguageModel): Promise<Outcome> {
  // No retries: the SDK would resend a request whose stream failed before any output.
  const result = streamText({ model, prompt: PROMPT, maxRetries: 0, maxOutputTokens: 64, onError: () => {} })
  const outcome: Outcome = { text: '', errors: [] }
  for await (const part of result.fullStream) {
    if (part.type === 'text-delta') outcome.text += part.text
    else if (part.type === 'error') outcome.errors.push(part.error)
    else if (part.type === 'finish') outcome.finishReason = part.finishReason
  }
  return outcome
}

const clients: Client[] = [
  {
    name: 'openai Chat Completions, stream: true',
    keys: [O1, O2],
    raises: OpenAI.APIError,
    call: (ctx) =>
      settle(async (append) => {
        const stream = await openaiSdk(ctx).chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: PROMPT }] })
        for await (const chunk of stream) append(chunk.choices[0]?.delta?.content ?? '')
      }),
  },
  {
    name: 'openai Chat Completions, chat.completions.stream()',
    keys: [O1, O2],
    raises: OpenAI.APIError,
    call: (ctx) =>
      settle(async (append) => {
        const stream = openaiSdk(ctx).chat.completions.stream({ model: 'gpt-sim', messages: [{ role: 'user', content: PROMPT }] })
        stream.on('content', (delta) => append(delta))
        await stream.finalChatCompletion()
      }),
  },
  {
    name: 'openai Responses, stream: true',
    keys: [O1, O2],
    raises: OpenAI.APIError,
    call: (ctx) =>
      settle(async (append) => {
        const stream = await openaiSdk(ctx).responses.create({ model: 'gpt-sim', stream: true, input: PROMPT })
        for await (const event of stream) if (event.type === 'response.output_text.delta') append(event.delta)
      }),
  },
  {
    name: 'openai Responses, responses.stream()',
    keys: [O1, O2],
    raises: OpenAI.APIError,
    call: (ctx) =>
      settle(async (append) => {
        const stream = openaiSdk(ctx).responses.stream({ model: 'gpt-sim', input: PROMPT })
        stream.on('response.output_text.delta', (event) => append(event.delta))
        await stream.finalResponse()
      }),
  },
  {
    name: '@anthropic-ai/sdk, stream: true',
    keys: [A1, A2],
    raises: Anthropic.APIError,
    call: (ctx) =>
      settle(async (append) => {
        const stream = await anthropicSdk(ctx).messages.create({ model: 'claude-sim-1', max_tokens: 64, stream: true, messages: [{ role: 'user', content: PROMPT }] })
        for await (const event of stream) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') append(event.delta.text)
      }),
  },
  {
    name: '@anthropic-ai/sdk, messages.stream()',
    keys: [A1, A2],
    raises: Anthropic.APIError,
    call: (ctx) =>
      settle(async (append) => {
        const stream = anthropicSdk(ctx).messages.stream({ model: 'claude-sim-1', max_tokens: 64, messages: [{ role: 'user', content: PROMPT }] })
        stream.on('text', (delta) => append(delta))
        await stream.finalMessage()
      }),
  },
  {
    name: '@google/genai, models.generateContentStream()',
    keys: [G1, G2],
    raises: ApiError,
    call: (ctx) =>
      settle(async (append) => {
        const stream = await geminiClient(ctx.url('gemini')).models.generateContentStream({ model: 'gemini-2.5-flash', contents: PROMPT })
        for await (const chunk of stream) append(chunk.text ?? '')
      }),
  },
  { name: 'ai streamText with @ai-sdk/openai Responses, openai(model)', keys: [O1, O2], call: (ctx) => streamTextOutcome(aiOpenAI(ctx)('gpt-sim')) },
  { name: 'ai streamText with @ai-sdk/openai Chat, openai.chat(model)', keys: [O1, O2], call: (ctx) => streamTextOutcome(aiOpenAI(ctx).chat('gpt-sim')) },
  { name: 'ai streamText with @ai-sdk/anthropic', keys: [A1, A2], call: (ctx) => streamTextOutcome(aiAnthropic(ctx)('claude-sim-1')) },
]

const messageOf = (err: unknown): string => String((err as { message?: unknown } | null)?.message ?? '')

/** Cut before any event (the stream is the bridge's error alone) and in the middle of the text. */
const CUTS = [0, 4]

function brokenStream(client: Client): Scenario {
  return {
    name: `${client.name}: a stream cut mid-way raises the bridge's error`,
    async run(ctx) {
      for (const [i, afterEvents] of CUTS.entries()) {
        ctx.sim.fault(client.keys[0], { kind: 'die_mid_stream', afterEvents }, { times: 1 })
        const out = await client.call(ctx)
        const what = `${client.name}, cut after ${afterEvents} events`
        expect(out.errors, what).toHaveLength(1)
        const [err] = out.errors
        expect(messageOf(err), what).toMatch(BRIDGE_MESSAGE)
        if (client.raises) expect(err, what).toBeInstanceOf(client.raises)
        // Parsed as the API's error, not as garbage.
        expect(TypeValidationError.isInstance(err), what).toBe(false)
        expect(JSONParseError.isInstance(err), what).toBe(false)
        // Never a clean finish: the AI SDK ends with 'error' (or no finish part at all when nothing came before).
        if (out.finishReason !== undefined) expect(out.finishReason, what).toBe('error')
        expect(out.text, what).not.toContain('eight')
        expect(REPLY.startsWith(out.text), what).toBe(true)

        const records = await ctx.recorded(i + 1)
        expect(records[i], what).toMatchObject({ outcome: 'truncated', status: 200, attempts: 1 })
      }
      // No failover once a stream was committed, nothing marked.
      expect(ctx.sim.requests.map((r) => r.key)).toEqual(CUTS.map(() => client.keys[0]))
      expect(Object.values(ctx.bridge.keyStates()).flat().every((k) => k.state === 'valid')).toBe(true)
    },
  }
}

function failedOverStream(client: Client): Scenario {
  return {
    name: `${client.name}: across a failover at the stream's first event, a normal stream`,
    async run(ctx) {
      const [k1, k2] = client.keys
      ctx.sim.fault(k1, { kind: 'stream_error', error: 'rate_limit', retry: 'retry-after', seconds: 30 }, { times: 1 })
      const out = await client.call(ctx)
      expect(out.errors).toEqual([])
      expect(out.text).toBe(REPLY)
      if (out.finishReason !== undefined) expect(out.finishReason).toBe('stop')
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([k1, k2])
      expect(ctx.sim.requests[0]!.body.equals(ctx.sim.requests[1]!.body)).toBe(true)
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ outcome: 'ok', attempts: 2 })
    },
  }
}

conformance([...clients.map(brokenStream), ...clients.map(failedOverStream)])
