/** The Anthropic Messages API, as far as the official SDK and aibridge need it. */
import type { IncomingHttpHeaders } from 'node:http'
import { bearerToken, headerValue, isObject, sseEvent, type Answer, type Handler, type JsonObject, type Problem, type Provider, type Route, type RouteContext } from '../answer.js'
import { anthropicSuccessHeaders } from '../rate-limit-headers.js'
import { estimateTokens, lastUserMessageText, replyText, splitDeltas } from '../reply.js'
import { plannedToolCall, resultText, splitJson, toolResultReply, type OfferedTool, type ToolChoice } from '../tools.js'
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

/** Custom tools (`{ name, input_schema }`); server tools such as web search carry a `type` and are not called. */
function offeredTools(body: JsonObject): OfferedTool[] {
  if (!Array.isArray(body.tools)) return []
  return body.tools
    .filter((t): t is JsonObject => isObject(t) && typeof t.name === 'string' && (t.type === undefined || t.type === 'custom'))
    .map((t) => ({ name: t.name as string, schema: t.input_schema }))
}

function toolChoice(body: JsonObject): ToolChoice {
  const choice = body.tool_choice
  if (!isObject(choice)) return 'auto'
  if (choice.type === 'none') return 'none'
  if (choice.type === 'any') return 'required'
  if (choice.type === 'tool' && typeof choice.name === 'string') return { name: choice.name }
  return 'auto'
}

/** The content of the last `tool_result` block, when the conversation ends with one. */
function lastToolResult(body: JsonObject): string | null {
  const last: unknown = Array.isArray(body.messages) ? body.messages.at(-1) : undefined
  if (!isObject(last) || last.role !== 'user' || !Array.isArray(last.content)) return null
  const result = last.content.findLast((b) => isObject(b) && b.type === 'tool_result')
  return isObject(result) ? resultText(result.content) : null
}

const messages: Handler = (ctx) => {
  const { body, n } = ctx
  const model = typeof body.model === 'string' ? body.model : DEFAULT_MODEL
  const toolResult = lastToolResult(body)
  const call = plannedToolCall(offeredTools(body), toolChoice(body), toolResult !== null, lastUserMessageText(body))
  const text = toolResult !== null ? toolResultReply(toolResult) : replyText(lastUserMessageText(body))
  const argsJson = call ? JSON.stringify(call.args) : ''
  const input = estimateTokens([body.system, body.messages, body.tools])
  const output = estimateTokens(call ? argsJson : text)
  const usage = {
    input_tokens: input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: 'standard',
  }
  const toolUse = call ? { type: 'tool_use', id: `toolu_sim_${n}`, name: call.name, input: call.args } : null
  const stopReason = toolUse ? 'tool_use' : 'end_turn'
  const message = {
    id: `msg_sim_${n}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [toolUse ?? { type: 'text', text }],
    stop_reason: stopReason,
    stop_sequence: null,
    usage,
  }
  if (body.stream !== true) return json(ctx, message, { input, output })

  const delta = (d: JsonObject) => sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: d })
  // A tool call's input streams as JSON text, starting with an empty piece as the real API does.
  const deltas = toolUse
    ? ['', ...splitJson(argsJson)].map((partial_json) => delta({ type: 'input_json_delta', partial_json }))
    : splitDeltas(text).map((t) => delta({ type: 'text_delta', text: t }))
  const events = [
    sseEvent('message_start', {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
    }),
    sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: toolUse ? { ...toolUse, input: {} } : { type: 'text', text: '' } }),
    sseEvent('ping', { type: 'ping' }),
    ...deltas,
    sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sseEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output },
    }),
    sseEvent('message_stop', { type: 'message_stop' }),
  ]
  return {
    type: 'sse',
    headers: anthropicSuccessHeaders(ctx.used, input, output),
    events,
    errorEvent: (problem) => sseEvent('error', streamErrorBody(problem, ctx.requestId)),
  }
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
    return ctx.error({ kind: 'invalid_request', message: 'limit: Input should be between 1 and 1000' })
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
  if (!found) return ctx.error({ kind: 'not_found', method: 'GET', path: `/v1/models/${ctx.param}` })
  return json(ctx, model(found))
}

const CREDIT_MESSAGE = 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.'

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
  quota: { status: 400, type: 'invalid_request_error', message: CREDIT_MESSAGE },
  // 529 is Anthropic's own "overloaded" status.
  overloaded: { status: 529, type: 'overloaded_error', message: 'Overloaded' },
  server_error: { status: 500, type: 'api_error', message: 'Internal server error' },
}

function errorOf(problem: Problem): { status: number; type: string; message: string } {
  const e = { ...ERRORS[problem.kind] }
  if (problem.kind === 'invalid_request') e.message = problem.message
  if (problem.kind === 'server_error') return problem.status === 529 ? { ...ERRORS.overloaded } : { ...e, status: problem.status }
  return e
}

/**
 * The data of an in-stream `event: error`. A used-up balance arrives there as `billing_error`
 * (there is no status to say 400 with).
 */
function streamErrorBody(problem: Problem, requestId: string): JsonObject {
  const { type, message } = problem.kind === 'quota' ? { type: 'billing_error', message: CREDIT_MESSAGE } : errorOf(problem)
  return { type: 'error', error: { type, message }, request_id: requestId }
}

// The real API refuses a request without the version header, whatever SDK sent it.
function requireVersion(headers: IncomingHttpHeaders): Problem | undefined {
  return headerValue(headers, 'anthropic-version') === null ? { kind: 'invalid_request', message: 'anthropic-version: header is required' } : undefined
}

function routeOf(method: string, path: string): Omit<Route, 'check'> | undefined {
  if (method === 'POST' && path === '/v1/messages') return { handler: messages, param: '', jsonBody: true }
  if (method === 'POST' && path === '/v1/messages/count_tokens') return { handler: countTokens, param: '', jsonBody: true }
  if (method === 'GET' && path === '/v1/models') return { handler: listModels, param: '', jsonBody: false }
  const m = /^\/v1\/models\/([^/]+)$/.exec(path)
  if (method === 'GET' && m) return { handler: getModel, param: safeDecode(m[1]!), jsonBody: false }
  return undefined
}

export const anthropic: Provider = {
  name: 'anthropic',
  requestIdHeaders: ['request-id'],
  defaultRetry: 'retry-after',

  credential(headers) {
    return headerValue(headers, 'x-api-key') ?? bearerToken(headers)
  },

  route(method, path) {
    const route = routeOf(method, path)
    return route && { ...route, check: requireVersion }
  },

  error(problem, { requestId }) {
    const { status, type, message } = errorOf(problem)
    return { type: 'json', status, headers: {}, body: { type: 'error', error: { type, message }, request_id: requestId } }
  },
}
