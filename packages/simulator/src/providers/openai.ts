/** The OpenAI Chat Completions, Responses and Models APIs, as far as the official SDK and aibridge need them. */
import type { IncomingHttpHeaders } from 'node:http'
import { bearerToken, nowSeconds, sseEvent, type Answer, type Handler, type JsonObject, type Problem, type Provider, type RouteContext } from '../answer.js'
import { openaiSuccessHeaders } from '../rate-limit-headers.js'
import { estimateTokens, lastResponsesInputText, lastUserMessageText, replyText, splitDeltas } from '../reply.js'
import { safeDecode } from './path.js'

const MODELS = [
  { id: 'gpt-4o', created: 1715367049 },
  { id: 'gpt-4o-mini', created: 1721172741 },
  { id: 'gpt-4.1', created: 1744316542 },
]
const DEFAULT_MODEL = 'gpt-4o-mini'
const FINGERPRINT = 'fp_sim0000000'

function successHeaders(ctx: RouteContext, tokens: number) {
  return { ...openaiSuccessHeaders(ctx.used, tokens), 'openai-version': '2020-10-01', 'openai-processing-ms': '1' }
}

function json(ctx: RouteContext, body: unknown, tokens = 0): Answer {
  return { type: 'json', status: 200, headers: successHeaders(ctx, tokens), body }
}

const modelOf = (body: JsonObject) => (typeof body.model === 'string' ? body.model : DEFAULT_MODEL)

const chatCompletions: Handler = (ctx) => {
  const { body, n } = ctx
  const id = `chatcmpl-sim${n}`
  const created = nowSeconds()
  const model = modelOf(body)
  const text = replyText(lastUserMessageText(body))
  const promptTokens = estimateTokens(body.messages)
  const completionTokens = estimateTokens(text)
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  }
  const headers = successHeaders(ctx, usage.total_tokens)

  if (body.stream !== true) {
    return {
      type: 'json',
      status: 200,
      headers,
      body: {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: text, refusal: null, annotations: [] },
            logprobs: null,
            finish_reason: 'stop',
          },
        ],
        usage,
        service_tier: 'default',
        system_fingerprint: FINGERPRINT,
      },
    }
  }

  const streamOptions = body.stream_options
  const includeUsage = typeof streamOptions === 'object' && streamOptions !== null && (streamOptions as JsonObject).include_usage === true
  // With include_usage every chunk carries `usage: null` and one last chunk with no choices carries the totals.
  const chunk = (choices: unknown[], usageValue?: unknown) =>
    sseEvent(null, {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      service_tier: 'default',
      system_fingerprint: FINGERPRINT,
      choices,
      ...(includeUsage ? { usage: usageValue ?? null } : {}),
    })
  const choice = (delta: JsonObject, finish: string | null = null) => ({ index: 0, delta, logprobs: null, finish_reason: finish })
  const events = [
    chunk([choice({ role: 'assistant', content: '', refusal: null })]),
    ...splitDeltas(text).map((delta) => chunk([choice({ content: delta })])),
    chunk([choice({}, 'stop')]),
    ...(includeUsage ? [chunk([], usage)] : []),
    sseEvent(null, '[DONE]'),
  ]
  return { type: 'sse', headers, events }
}

const responses: Handler = (ctx) => {
  const { body, n } = ctx
  const text = replyText(lastResponsesInputText(body))
  const inputTokens = estimateTokens([body.instructions, body.input])
  const outputTokens = estimateTokens(text)
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  }
  const itemId = `msg_sim_${n}`
  const part = { type: 'output_text', annotations: [], logprobs: [], text }
  const item = { id: itemId, type: 'message', status: 'completed', content: [part], role: 'assistant' }
  const response = (status: 'in_progress' | 'completed') => ({
    id: `resp_sim_${n}`,
    object: 'response',
    created_at: nowSeconds(),
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model: modelOf(body),
    output: status === 'completed' ? [item] : [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_logprobs: 0,
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: status === 'completed' ? usage : null,
    user: null,
    metadata: body.metadata ?? {},
  })
  const headers = successHeaders(ctx, usage.total_tokens)
  if (body.stream !== true) return { type: 'json', status: 200, headers, body: response('completed') }

  let seq = 0
  const event = (type: string, data: JsonObject) => sseEvent(type, { type, sequence_number: seq++, ...data })
  const at = { item_id: itemId, output_index: 0, content_index: 0 }
  const events = [
    event('response.created', { response: response('in_progress') }),
    event('response.in_progress', { response: response('in_progress') }),
    event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
    event('response.content_part.added', { ...at, part: { ...part, text: '' } }),
    ...splitDeltas(text).map((delta) => event('response.output_text.delta', { ...at, delta, logprobs: [] })),
    event('response.output_text.done', { ...at, text, logprobs: [] }),
    event('response.content_part.done', { ...at, part }),
    event('response.output_item.done', { output_index: 0, item }),
    event('response.completed', { response: response('completed') }),
  ]
  return { type: 'sse', headers, events }
}

const model = (m: (typeof MODELS)[number]) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'system' })

const listModels: Handler = (ctx) => json(ctx, { object: 'list', data: MODELS.map(model) })

const getModel: Handler = (ctx) => {
  const found = MODELS.find((m) => m.id === ctx.param)
  if (!found) {
    return {
      type: 'json',
      status: 404,
      headers: {},
      body: {
        error: {
          message: `The model '${ctx.param}' does not exist`,
          type: 'invalid_request_error',
          param: 'model',
          code: 'model_not_found',
        },
      },
    }
  }
  return json(ctx, model(found))
}

const ERRORS: Record<Problem['kind'], { status: number; type: string; code: string | null; message: string }> = {
  missing_key: {
    status: 401,
    type: 'invalid_request_error',
    code: null,
    message:
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
  },
  invalid_key: {
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  forbidden: {
    status: 403,
    type: 'invalid_request_error',
    code: 'insufficient_permissions',
    message: 'You have insufficient permissions for this operation.',
  },
  not_found: { status: 404, type: 'invalid_request_error', code: null, message: 'Invalid URL' },
  invalid_request: { status: 400, type: 'invalid_request_error', code: null, message: 'Invalid request' },
  rate_limit: {
    status: 429,
    type: 'requests',
    code: 'rate_limit_exceeded',
    message:
      'Rate limit reached for requests per min (RPM) (simulated). Visit https://platform.openai.com/account/rate-limits to learn more.',
  },
  quota: {
    status: 429,
    type: 'insufficient_quota',
    code: 'insufficient_quota',
    message:
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
  },
  server_error: {
    status: 500,
    type: 'server_error',
    code: null,
    message: 'The server had an error while processing your request. Sorry about that!',
  },
}

export const openai: Provider = {
  name: 'openai',
  requestIdHeader: 'x-request-id',

  credential(headers: IncomingHttpHeaders) {
    return bearerToken(headers)
  },

  route(method, path) {
    if (method === 'POST' && path === '/v1/chat/completions') return { handler: chatCompletions, param: '', jsonBody: true }
    if (method === 'POST' && path === '/v1/responses') return { handler: responses, param: '', jsonBody: true }
    if (method === 'GET' && path === '/v1/models') return { handler: listModels, param: '', jsonBody: false }
    const m = /^\/v1\/models\/([^/]+)$/.exec(path)
    if (method === 'GET' && m) return { handler: getModel, param: safeDecode(m[1]!), jsonBody: false }
    return undefined
  },

  error(problem, _requestId) {
    let { status, type, code, message } = ERRORS[problem.kind]
    if (problem.kind === 'invalid_request') message = problem.message
    if (problem.kind === 'not_found') message = `Invalid URL (${problem.method} ${problem.path})`
    if (problem.kind === 'server_error') {
      status = problem.status
      if (status === 503) message = 'The engine is currently overloaded, please try again later.'
    }
    return { type: 'json', status, headers: {}, body: { error: { message, type, param: null, code } } }
  },
}
