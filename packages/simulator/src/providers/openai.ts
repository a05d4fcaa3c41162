/** The OpenAI Chat Completions, Responses, Embeddings and Models APIs, as far as the official SDK and aibridge need them. */
import { bearerToken, isObject, nowSeconds, sseEvent, type Answer, type Handler, type JsonObject, type Problem, type Provider, type Route, type RouteContext } from '../answer.js'
import { openaiSuccessHeaders } from '../rate-limit-headers.js'
import { estimateTokens, lastResponsesInputText, lastUserMessageText, replyText, splitDeltas } from '../reply.js'
import { plannedToolCall, resultText, splitJson, toolResultReply, type OfferedTool, type ToolChoice } from '../tools.js'
import { embeddingVector } from './embedding.js'
import { safeDecode } from './path.js'

const MODELS = [
  { id: 'gpt-4o', created: 1715367049 },
  { id: 'gpt-4o-mini', created: 1721172741 },
  { id: 'gpt-4.1', created: 1744316542 },
  { id: 'text-embedding-3-small', created: 1705948997 },
]
const DEFAULT_MODEL = 'gpt-4o-mini'
const FINGERPRINT = 'fp_sim0000000'

function successHeaders(ctx: RouteContext, tokens: number) {
  return { ...openaiSuccessHeaders(ctx.used, tokens), 'openai-version': '2020-10-01', 'openai-processing-ms': '1' }
}

function json(ctx: RouteContext, body: unknown, tokens = 0): Answer {
  return { type: 'json', status: 200, headers: successHeaders(ctx, tokens), body }
}

/** The model an answer names: an Azure deployment's own (the route's param), else the body's. */
const modelOf = (ctx: RouteContext, fallback = DEFAULT_MODEL) => ctx.param || (typeof ctx.body.model === 'string' ? ctx.body.model : fallback)

/** `tool_choice` of Chat Completions (`{ type: 'function', function: { name } }`) and Responses (`{ type: 'function', name }`). */
function toolChoice(choice: unknown): ToolChoice {
  if (choice === 'none' || choice === 'required') return choice
  if (isObject(choice) && choice.type === 'function') {
    const name = isObject(choice.function) ? choice.function.name : choice.name
    if (typeof name === 'string') return { name }
  }
  return 'auto'
}

/** Function tools: Chat nests them (`{ type, function: { name, parameters } }`), Responses does not. */
function offeredTools(tools: unknown): OfferedTool[] {
  if (!Array.isArray(tools)) return []
  return tools.flatMap((t): OfferedTool[] => {
    if (!isObject(t) || t.type !== 'function') return []
    const fn = isObject(t.function) ? t.function : t
    return typeof fn.name === 'string' ? [{ name: fn.name, schema: fn.parameters }] : []
  })
}

/** The text of the last item of a list when it is a tool result (`role: 'tool'` or `function_call_output`). */
function lastToolResult(items: unknown, isResult: (item: JsonObject) => boolean, content: (item: JsonObject) => unknown): string | null {
  const last: unknown = Array.isArray(items) ? items.at(-1) : undefined
  return isObject(last) && isResult(last) ? resultText(content(last)) : null
}

/** The code an in-stream Responses error carries: the provider error's code, else its type. */
function errorCode(ctx: RouteContext, problem: Problem): { code: string; message: string } {
  const { error } = ctx.error(problem).body as { error: { code?: unknown; type?: unknown; message: string } }
  const code = typeof error.code === 'string' ? error.code : typeof error.type === 'string' ? error.type : 'server_error'
  return { code, message: error.message }
}

/**
 * Chat Completions. Azure's flavour adds its content-filter results: `prompt_filter_results` on
 * the completion, and a first stream chunk with no choices that carries only them.
 */
export function chatCompletions({ azure }: { azure: boolean }): Handler {
  return (ctx) => {
    const { body, n } = ctx
    const id = `chatcmpl-sim${n}`
    const created = nowSeconds()
    const model = modelOf(ctx)
    const toolResult = lastToolResult(body.messages, (m) => m.role === 'tool', (m) => m.content)
    const call = plannedToolCall(offeredTools(body.tools), toolChoice(body.tool_choice), toolResult !== null, lastUserMessageText(body))
    const text = toolResult !== null ? toolResultReply(toolResult) : replyText(lastUserMessageText(body))
    const toolCall = call ? { id: `call_sim_${n}`, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.args) } } : null
    const finish = toolCall ? 'tool_calls' : 'stop'
    const promptTokens = estimateTokens([body.messages, body.tools])
    const completionTokens = estimateTokens(toolCall ? toolCall.function.arguments : text)
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    }
    const headers = successHeaders(ctx, usage.total_tokens)
    const filtered = { hate: { filtered: false, severity: 'safe' }, self_harm: { filtered: false, severity: 'safe' }, sexual: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' } }
    const promptFilter = azure ? { prompt_filter_results: [{ prompt_index: 0, content_filter_results: filtered }] } : {}

    if (body.stream !== true) {
      const message = toolCall
        ? { role: 'assistant', content: null, tool_calls: [toolCall], refusal: null, annotations: [] }
        : { role: 'assistant', content: text, refusal: null, annotations: [] }
      const choice = { index: 0, message, logprobs: null, finish_reason: finish, ...(azure ? { content_filter_results: filtered } : {}) }
      return {
        type: 'json',
        status: 200,
        headers,
        body: { id, object: 'chat.completion', created, model, choices: [choice], usage, service_tier: 'default', system_fingerprint: FINGERPRINT, ...promptFilter },
      }
    }

    const streamOptions = body.stream_options
    const includeUsage = isObject(streamOptions) && streamOptions.include_usage === true
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
    const choice = (delta: JsonObject, finishReason: string | null = null) => ({
      index: 0,
      delta,
      logprobs: null,
      finish_reason: finishReason,
      ...(azure ? { content_filter_results: {} } : {}),
    })
    const opening = toolCall
      ? [
          chunk([choice({ role: 'assistant', content: null, tool_calls: [{ index: 0, ...toolCall, function: { name: toolCall.function.name, arguments: '' } }], refusal: null })]),
          ...splitJson(toolCall.function.arguments).map((piece) => chunk([choice({ tool_calls: [{ index: 0, function: { arguments: piece } }] })])),
        ]
      : [chunk([choice({ role: 'assistant', content: '', refusal: null })]), ...splitDeltas(text).map((delta) => chunk([choice({ content: delta })]))]
    const events = [
      ...(azure ? [sseEvent(null, { choices: [], created: 0, id: '', model: '', object: '', ...promptFilter })] : []),
      ...opening,
      chunk([choice({}, finish)]),
      ...(includeUsage ? [chunk([], usage)] : []),
      sseEvent(null, '[DONE]'),
    ]
    return { type: 'sse', headers, events, errorEvent: (problem) => sseEvent(null, ctx.error(problem).body) }
  }
}

export const responses: Handler = (ctx) => {
  const { body, n } = ctx
  const toolResult = lastToolResult(body.input, (i) => i.type === 'function_call_output', (i) => i.output)
  const call = plannedToolCall(offeredTools(body.tools), toolChoice(body.tool_choice), toolResult !== null, lastResponsesInputText(body))
  const text = toolResult !== null ? toolResultReply(toolResult) : replyText(lastResponsesInputText(body))
  const argsJson = call ? JSON.stringify(call.args) : ''
  const inputTokens = estimateTokens([body.instructions, body.input, body.tools])
  const outputTokens = estimateTokens(call ? argsJson : text)
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  }
  const part = { type: 'output_text', annotations: [], logprobs: [], text }
  const item = call
    ? { id: `fc_sim_${n}`, type: 'function_call', status: 'completed', arguments: argsJson, call_id: `call_sim_${n}`, name: call.name }
    : { id: `msg_sim_${n}`, type: 'message', status: 'completed', content: [part], role: 'assistant' }
  const response = (status: 'in_progress' | 'completed' | 'failed', error: JsonObject | null = null) => ({
    id: `resp_sim_${n}`,
    object: 'response',
    created_at: nowSeconds(),
    status,
    background: false,
    error,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model: modelOf(ctx),
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
  const at = { item_id: item.id, output_index: 0 }
  const opening = [event('response.created', { response: response('in_progress') }), event('response.in_progress', { response: response('in_progress') })]
  const outputEvents =
    item.type === 'function_call'
      ? [
          event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', arguments: '' } }),
          ...splitJson(argsJson).map((delta) => event('response.function_call_arguments.delta', { ...at, delta })),
          event('response.function_call_arguments.done', { ...at, name: call!.name, arguments: argsJson }),
        ]
      : [
          event('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
          event('response.content_part.added', { ...at, content_index: 0, part: { ...part, text: '' } }),
          ...splitDeltas(text).map((delta) => event('response.output_text.delta', { ...at, content_index: 0, delta, logprobs: [] })),
          event('response.output_text.done', { ...at, content_index: 0, text, logprobs: [] }),
          event('response.content_part.done', { ...at, content_index: 0, part }),
        ]
  // Built in order: each event takes the next sequence number.
  const events = [
    ...opening,
    ...outputEvents,
    event('response.output_item.done', { output_index: 0, item }),
    event('response.completed', { response: response('completed') }),
  ]
  return {
    type: 'sse',
    headers,
    events,
    // Written in place of events[index], so its sequence number is index.
    errorEvent(problem, index, { responsesEvent }) {
      const { code, message } = errorCode(ctx, problem)
      if (responsesEvent === 'response.failed') {
        return sseEvent(responsesEvent, { type: responsesEvent, sequence_number: index, response: response('failed', { code, message }) })
      }
      return sseEvent('error', { type: 'error', code, message, param: null, sequence_number: index })
    },
  }
}

/** Embeddings of `input` (a string or a list), as float arrays or, as the SDK asks by default, base64. */
export const embeddings: Handler = (ctx) => {
  const { body } = ctx
  const inputs = Array.isArray(body.input) ? body.input : [body.input]
  const dimensions = typeof body.dimensions === 'number' && Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : 256
  const base64 = body.encoding_format === 'base64'
  const data = inputs.map((input, index) => {
    const vector = embeddingVector(JSON.stringify(input), dimensions)
    return { object: 'embedding', index, embedding: base64 ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector) }
  })
  const tokens = estimateTokens(body.input)
  return json(ctx, { object: 'list', data, model: modelOf(ctx, 'text-embedding-3-small'), usage: { prompt_tokens: tokens, total_tokens: tokens } }, tokens)
}

const model = (m: (typeof MODELS)[number]) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'system' })

export const listModels: Handler = (ctx) => json(ctx, { object: 'list', data: MODELS.map(model) })

export const getModel: Handler = (ctx) => {
  const found = MODELS.find((m) => m.id === ctx.param)
  if (!found) {
    return {
      type: 'json',
      status: 404,
      headers: {},
      body: { error: { message: `The model '${ctx.param}' does not exist`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } },
    }
  }
  return json(ctx, model(found))
}

const chat = chatCompletions({ azure: false })

/** The routes below `/v1`, shared with Azure's `/openai/v1` API. */
export function v1Route(method: string, path: string, chatHandler: Handler = chat): Route | undefined {
  if (method === 'POST' && path === '/chat/completions') return { handler: chatHandler, param: '', jsonBody: true }
  if (method === 'POST' && path === '/responses') return { handler: responses, param: '', jsonBody: true }
  if (method === 'POST' && path === '/embeddings') return { handler: embeddings, param: '', jsonBody: true }
  if (method === 'GET' && path === '/models') return { handler: listModels, param: '', jsonBody: false }
  const m = /^\/models\/([^/]+)$/.exec(path)
  if (method === 'GET' && m) return { handler: getModel, param: safeDecode(m[1]!), jsonBody: false }
  return undefined
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
    message: 'Rate limit reached for requests per min (RPM) (simulated). Visit https://platform.openai.com/account/rate-limits to learn more.',
  },
  quota: {
    status: 429,
    type: 'insufficient_quota',
    code: 'insufficient_quota',
    message:
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
  },
  overloaded: { status: 503, type: 'server_error', code: null, message: 'The engine is currently overloaded, please try again later.' },
  server_error: { status: 500, type: 'server_error', code: null, message: 'The server had an error while processing your request. Sorry about that!' },
}

/** OpenAI's error body, `{ error: { message, type, param, code } }`, and its status. */
export function openaiError(problem: Problem): { status: number; body: JsonObject } {
  let { status, type, code, message } = ERRORS[problem.kind]
  if (problem.kind === 'invalid_request') message = problem.message
  if (problem.kind === 'not_found') message = `Invalid URL (${problem.method} ${problem.path})`
  if (problem.kind === 'server_error') {
    status = problem.status
    if (status === 503) message = ERRORS.overloaded.message
  }
  return { status, body: { error: { message, type, param: null, code } } }
}

export const openai: Provider = {
  name: 'openai',
  requestIdHeaders: ['x-request-id'],
  defaultRetry: 'retry-after',

  credential(headers) {
    return bearerToken(headers)
  },

  route(method, path) {
    return path.startsWith('/v1/') ? v1Route(method, path.slice(3)) : undefined
  },

  error(problem) {
    const { status, body } = openaiError(problem)
    return { type: 'json', status, headers: {}, body }
  },
}
