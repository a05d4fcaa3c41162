/**
 * Google's Gemini API (generativelanguage.googleapis.com), as far as `@google/genai` and aibridge
 * need it: generateContent, streamGenerateContent (SSE with `alt=sse`, else a streamed JSON
 * array), countTokens and the models list, with errors in Google's `google.rpc.Status` shape.
 */
import { bearerToken, headerValue, isObject, type Answer, type Handler, type JsonObject, type Problem, type Provider, type Route } from '../answer.js'
import { estimateTokens, lastGeminiUserText, replyText, splitDeltas } from '../reply.js'
import { plannedToolCall, toolResultReply, type OfferedTool, type ToolChoice } from '../tools.js'
import { safeDecode } from './path.js'

const MODELS = [
  { id: 'gemini-2.5-pro', displayName: 'Gemini 2.5 Pro', outputTokenLimit: 65536 },
  { id: 'gemini-2.5-flash', displayName: 'Gemini 2.5 Flash', outputTokenLimit: 65536 },
  { id: 'gemini-2.5-flash-lite', displayName: 'Gemini 2.5 Flash-Lite', outputTokenLimit: 65536 },
  { id: 'gemini-2.0-flash', displayName: 'Gemini 2.0 Flash', outputTokenLimit: 8192 },
]
const DEFAULT_MODEL = 'gemini-2.5-flash'

/** Function declarations of every `tools[]` entry. */
function offeredTools(body: JsonObject): OfferedTool[] {
  if (!Array.isArray(body.tools)) return []
  return body.tools.flatMap((tool): OfferedTool[] => {
    if (!isObject(tool) || !Array.isArray(tool.functionDeclarations)) return []
    return tool.functionDeclarations
      .filter((d): d is JsonObject => isObject(d) && typeof d.name === 'string')
      .map((d) => ({ name: d.name as string, schema: d.parametersJsonSchema ?? d.parameters }))
  })
}

/** `toolConfig.functionCallingConfig`: mode `NONE`, `ANY` (one allowed name picks it), else auto. */
function toolChoice(body: JsonObject): ToolChoice {
  const config = isObject(body.toolConfig) && isObject(body.toolConfig.functionCallingConfig) ? body.toolConfig.functionCallingConfig : {}
  if (config.mode === 'NONE') return 'none'
  if (config.mode !== 'ANY') return 'auto'
  const allowed = Array.isArray(config.allowedFunctionNames) ? config.allowedFunctionNames : []
  return allowed.length === 1 && typeof allowed[0] === 'string' ? { name: allowed[0] } : 'required'
}

/** The `functionResponse.response` of the last content, when the conversation ends with one. */
function lastFunctionResponse(body: JsonObject): string | null {
  const last: unknown = Array.isArray(body.contents) ? body.contents.at(-1) : undefined
  if (!isObject(last) || !Array.isArray(last.parts)) return null
  const part = last.parts.find((p) => isObject(p) && isObject(p.functionResponse))
  return isObject(part) && isObject(part.functionResponse) ? JSON.stringify(part.functionResponse.response ?? {}) : null
}

/** Google's streams separate their events with CRLF pairs. */
const sse = (data: unknown): string => `data: ${JSON.stringify(data)}\r\n\r\n`

const generate =
  (stream: boolean): Handler =>
  (ctx) => {
    const { body, n } = ctx
    const model = ctx.param
    const functionResponse = lastFunctionResponse(body)
    const userText = lastGeminiUserText(body)
    const call = plannedToolCall(offeredTools(body), toolChoice(body), functionResponse !== null, userText)
    const text = functionResponse !== null ? toolResultReply(functionResponse) : replyText(userText)
    const prompt = estimateTokens([body.systemInstruction, body.contents, body.tools])
    const output = estimateTokens(call ? call.args : text)
    const promptTokensDetails = [{ modality: 'TEXT', tokenCount: prompt }]
    const usage = { promptTokenCount: prompt, candidatesTokenCount: output, totalTokenCount: prompt + output, promptTokensDetails }
    const response = (parts: unknown[], last: boolean) => ({
      candidates: [{ content: { parts, role: 'model' }, ...(last ? { finishReason: 'STOP' } : {}), index: 0 }],
      // While streaming, only the last chunk counts the candidates' tokens.
      usageMetadata: last ? usage : { promptTokenCount: prompt, totalTokenCount: prompt, promptTokensDetails },
      modelVersion: model,
      responseId: `sim_resp_${n}`,
    })
    const chunks = call ? [[{ functionCall: { name: call.name, args: call.args } }]] : splitDeltas(text).map((t) => [{ text: t }])
    if (!stream) {
      const parts = call ? chunks[0]! : [{ text }]
      return { type: 'json', status: 200, headers: {}, body: response(parts, true) }
    }

    const bodies = chunks.map((parts, i) => response(parts, i === chunks.length - 1))
    const errorBody = (problem: Problem) => ctx.error(problem).body
    if (ctx.query.get('alt') === 'sse') {
      return { type: 'sse', headers: {}, events: bodies.map(sse), errorEvent: (problem) => sse(errorBody(problem)) }
    }
    // Without alt=sse the stream is one JSON array, sent element by element.
    const open = (i: number) => (i === 0 ? '[' : ',\r\n')
    return {
      type: 'sse',
      headers: {},
      contentType: 'application/json; charset=UTF-8',
      events: [...bodies.map((b, i) => open(i) + JSON.stringify(b)), ']'],
      errorEvent: (problem, index) => `${open(index)}${JSON.stringify(errorBody(problem))}]`,
    }
  }

const countTokens: Handler = (ctx) => {
  const tokens = estimateTokens([ctx.body.contents, ctx.body.generateContentRequest])
  return json({ totalTokens: tokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: tokens }] })
}

function json(body: unknown): Answer {
  return { type: 'json', status: 200, headers: {}, body }
}

const model = (m: (typeof MODELS)[number]) => ({
  name: `models/${m.id}`,
  version: '001',
  displayName: m.displayName,
  description: `${m.displayName} (simulated)`,
  inputTokenLimit: 1048576,
  outputTokenLimit: m.outputTokenLimit,
  supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
  temperature: 1,
  topP: 0.95,
  topK: 64,
  maxTemperature: 2,
})

// `pageSize` (default 50, at most 1000) and `pageToken`, which is the `nextPageToken` of the page before.
const listModels: Handler = (ctx) => {
  const rawSize = ctx.query.get('pageSize')
  const size = rawSize === null ? 50 : Math.min(1000, Number(rawSize))
  const token = ctx.query.get('pageToken') ?? ''
  const start = token === '' ? 0 : Number(token)
  if (!Number.isInteger(size) || size < 0 || !Number.isInteger(start) || start < 0 || start > MODELS.length) {
    return ctx.error({ kind: 'invalid_request', message: 'Invalid page size or page token.' })
  }
  const end = start + (size === 0 ? 50 : size)
  const page = MODELS.slice(start, end).map(model)
  return json({ models: page, ...(end < MODELS.length ? { nextPageToken: String(end) } : {}) })
}

const getModel: Handler = (ctx) => {
  const found = MODELS.find((m) => m.id === ctx.param)
  if (!found) return ctx.error({ kind: 'not_found', method: 'GET', path: `models/${ctx.param}` })
  return json(model(found))
}

const STATUS_NAMES: Record<number, string> = { 500: 'INTERNAL', 501: 'UNIMPLEMENTED', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' }

const RATE_LIMIT_DOCS = 'https://ai.google.dev/gemini-api/docs/rate-limits'

/** A 429 `RESOURCE_EXHAUSTED` with the `QuotaFailure` of a per-minute or per-day free-tier quota. */
function quotaExhausted(per: 'Minute' | 'Day', limit: number, model: string, seconds: number | null): JsonObject {
  const metric = 'generativelanguage.googleapis.com/generate_content_free_tier_requests'
  // google.protobuf.Duration in JSON: seconds with an `s`, fractions allowed ("37s", "1.500s").
  const delay = seconds === null ? null : Number.isInteger(seconds) ? `${seconds}s` : `${seconds.toFixed(3)}s`
  const message =
    `You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: ${RATE_LIMIT_DOCS}. ` +
    `To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: ${metric}, limit: ${limit}, model: ${model}` +
    (delay === null ? '' : `\nPlease retry in ${delay}.`)
  return {
    code: 429,
    message,
    status: 'RESOURCE_EXHAUSTED',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: metric,
            quotaId: `GenerateRequestsPer${per}PerProjectPerModel-FreeTier`,
            quotaDimensions: { location: 'global', model },
            quotaValue: String(limit),
          },
        ],
      },
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: RATE_LIMIT_DOCS }] },
      ...(delay === null ? [] : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: delay }]),
    ],
  }
}

const INVALID_KEY_MESSAGE = 'API key not valid. Please pass a valid API key.'

/** The `error` of Google's error body: `{ code, message, status, details? }`. */
function googleError(problem: Problem, model: string): JsonObject {
  switch (problem.kind) {
    case 'missing_key':
      return {
        code: 403,
        message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        status: 'PERMISSION_DENIED',
      }
    case 'invalid_key':
      return {
        code: 400,
        message: INVALID_KEY_MESSAGE,
        status: 'INVALID_ARGUMENT',
        details: [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
          { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: INVALID_KEY_MESSAGE },
        ],
      }
    case 'forbidden':
      return { code: 403, message: 'Your API key was reported as leaked. Please use another API key.', status: 'PERMISSION_DENIED' }
    case 'not_found':
      return { code: 404, message: `${problem.path} is not found (simulated): no such method or model.`, status: 'NOT_FOUND' }
    case 'invalid_request':
      return { code: 400, message: problem.message, status: 'INVALID_ARGUMENT' }
    case 'rate_limit':
      return quotaExhausted('Minute', 10, model, problem.seconds)
    case 'quota':
      return quotaExhausted('Day', 250, model, problem.seconds)
    case 'overloaded':
      return { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' }
    case 'server_error':
      return {
        code: problem.status,
        message: problem.status === 503 ? 'The model is overloaded. Please try again later.' : 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
        status: STATUS_NAMES[problem.status] ?? 'INTERNAL',
      }
  }
}

const VERSION = '(v1|v1beta|v1alpha)'
const GENERATE = new RegExp(`^/${VERSION}/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$`)
const MODELS_LIST = new RegExp(`^/${VERSION}/models$`)
const ONE_MODEL = new RegExp(`^/${VERSION}/models/([^/:]+)$`)

export const gemini: Provider = {
  name: 'gemini',
  // Google's API carries no request id header (the body's `responseId` names a response).
  requestIdHeaders: [],
  defaultRetry: 'retry-info',

  credential(headers, query) {
    const fromQuery = query.get('key')
    return headerValue(headers, 'x-goog-api-key') ?? (fromQuery !== null && fromQuery.trim() !== '' ? fromQuery.trim() : null) ?? bearerToken(headers)
  },

  route(method, path): Route | undefined {
    const m = GENERATE.exec(path)
    if (m && method === 'POST') {
      const [, , rawModel, action] = m
      const handler = action === 'countTokens' ? countTokens : generate(action === 'streamGenerateContent')
      return { handler, param: safeDecode(rawModel!), jsonBody: true }
    }
    if (method === 'GET' && MODELS_LIST.test(path)) return { handler: listModels, param: '', jsonBody: false }
    const one = ONE_MODEL.exec(path)
    if (method === 'GET' && one) return { handler: getModel, param: safeDecode(one[2]!), jsonBody: false }
    return undefined
  },

  error(problem, { param }) {
    const error = googleError(problem, param || DEFAULT_MODEL)
    return { type: 'json', status: error.code as number, headers: {}, body: { error } }
  },
}
