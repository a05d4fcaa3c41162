/** The Anthropic Messages API, as far as the official SDK and aibridge need it. */
import type { IncomingHttpHeaders } from 'node:http'
import { bearerToken, sseEvent, type Answer, type Handler, type Problem, type Provider, type RouteContext } from '../answer.js'
import { anthropicSuccessHeaders } from '../rate-limit-headers.js'
import { estimateTokens, lastUserMessageText, replyText, splitDeltas } from '../reply.js'
import { safeDecode } from './path.js'

const MODELS = [
  { id: 'claude-opus-4-6', display_name: 'Claude Opus 4.6', created_at: '2026-02-05T00:00:00Z' },
  { id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2026-02-17T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' },
]
// Not one the SDKs warn about as deprecated.
const DEFAULT_MODEL = 'claude-sonnet-4-6'

function json(ctx: RouteContext, body: unknown, tokens: { input: number; output: number } = { input: 0, output: 0 }): Answer {
  return { type: 'json', status: 200, headers: anthropicSuccessHeaders(ctx.used, tokens.input, tokens.output), body }
}

const messages: Handler = (ctx) => {
  const { body, n } = ctx
  const model = typeof body.model === 'string' ? body.model : DEFAULT_MODEL
  const text = replyText(lastUserMessageText(body))
  const input = estimateTokens([body.system, body.messages])
  const output = estimateTokens(text)
  const usage = {
    input_tokens: input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: 'standard',
  }
  const message = {
    id: `msg_sim_${n}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage,
  }
  if (body.stream !== true) return json(ctx, message, { input, output })

  const events = [
    sseEvent('message_start', {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
    }),
    sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    sseEvent('ping', { type: 'ping' }),
    ...splitDeltas(text).map((delta) =>
      sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: delta } }),
    ),
    sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sseEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output },
    }),
    sseEvent('message_stop', { type: 'message_stop' }),
  ]
  return { type: 'sse', headers: anthropicSuccessHeaders(ctx.used, input, output), events }
}

const countTokens: Handler = (ctx) => {
  const input = estimateTokens([ctx.body.system, ctx.body.messages, ctx.body.tools])
  return json(ctx, { input_tokens: input })
}

const model = (m: (typeof MODELS)[number]) => ({ type: 'model', ...m })

// Paginated like the real list: `limit` (1 to 1000, default 20), then `after_id` or `before_id`.
const listModels: Handler = (ctx) => {
  const all = MODELS.map(model)
  const rawLimit = ctx.query.get('limit')
  const limit = rawLimit === null ? 20 : Number(rawLimit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return anthropic.error({ kind: 'invalid_request', message: 'limit: Input should be between 1 and 1000' }, ctx.requestId)
  }
  const afterId = ctx.query.get('after_id')
  const beforeId = ctx.query.get('before_id')
  let start = 0
  let end = all.length
  if (afterId !== null) start = all.findIndex((m) => m.id === afterId) + 1
  else if (beforeId !== null) end = Math.max(0, all.findIndex((m) => m.id === beforeId))
  const from = beforeId !== null && afterId === null ? Math.max(start, end - limit) : start
  const data = all.slice(from, Math.min(end, from + limit))
  const hasMore = beforeId !== null && afterId === null ? from > 0 : from + data.length < all.length
  return json(ctx, { data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null })
}

const getModel: Handler = (ctx) => {
  const found = MODELS.find((m) => m.id === ctx.param)
  if (!found) return anthropic.error({ kind: 'not_found', method: 'GET', path: `/v1/models/${ctx.param}` }, ctx.requestId)
  return json(ctx, model(found))
}

const ERRORS: Record<Problem['kind'], { status: number; type: string; message: string }> = {
  missing_key: { status: 401, type: 'authentication_error', message: 'x-api-key header is required' },
  invalid_key: { status: 401, type: 'authentication_error', message: 'invalid x-api-key' },
  forbidden: { status: 403, type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  not_found: { status: 404, type: 'not_found_error', message: 'Not found' },
  invalid_request: { status: 400, type: 'invalid_request_error', message: 'Invalid request' },
  rate_limit: {
    status: 429,
    type: 'rate_limit_error',
    message:
      "This request would exceed your organization's rate limit of 50 requests per minute (simulated). For details, refer to: https://docs.claude.com/en/api/rate-limits.",
  },
  quota: {
    status: 400,
    type: 'invalid_request_error',
    message: 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
  },
  server_error: { status: 500, type: 'api_error', message: 'Internal server error' },
}

export const anthropic: Provider = {
  name: 'anthropic',
  requestIdHeader: 'request-id',

  credential(headers: IncomingHttpHeaders) {
    const apiKey = headers['x-api-key']
    if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim()
    return bearerToken(headers)
  },

  route(method, path) {
    if (method === 'POST' && path === '/v1/messages') return { handler: messages, param: '', jsonBody: true }
    if (method === 'POST' && path === '/v1/messages/count_tokens') return { handler: countTokens, param: '', jsonBody: true }
    if (method === 'GET' && path === '/v1/models') return { handler: listModels, param: '', jsonBody: false }
    const m = /^\/v1\/models\/([^/]+)$/.exec(path)
    if (method === 'GET' && m) return { handler: getModel, param: safeDecode(m[1]!), jsonBody: false }
    return undefined
  },

  error(problem, requestId) {
    let { status, type, message } = ERRORS[problem.kind]
    if (problem.kind === 'invalid_request') message = problem.message
    if (problem.kind === 'server_error') {
      status = problem.status
      // 529 is Anthropic's own "overloaded" status.
      if (status === 529) ({ type, message } = { type: 'overloaded_error', message: 'Overloaded' })
    }
    return { type: 'json', status, headers: {}, body: { type: 'error', error: { type, message }, request_id: requestId } }
  },
}
