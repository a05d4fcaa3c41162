/**
 * Azure OpenAI: the deployments API (`/openai/deployments/{deployment}/...?api-version=...`), the
 * Responses API (`/openai/responses?api-version=...`) and the v1 API (`/openai/v1/...`), as far as
 * `openai`'s `AzureOpenAI` client and aibridge need them. Bodies are OpenAI's, plus Azure's
 * content-filter results; errors are Azure's `{ error: { code, message } }` where Azure writes its
 * own (authentication, throttling, routing) and OpenAI's elsewhere.
 */
import { bearerToken, headerValue, type ErrorContext, type Handler, type JsonAnswer, type JsonObject, type Problem, type Provider, type Route } from '../answer.js'
import { chatCompletions, embeddings, openaiError, responses, v1Route } from './openai.js'
import { safeDecode } from './path.js'

const chat = chatCompletions({ azure: true })

const QUOTA_SECONDS = 86_400

/** The Azure operation a throttling message names. */
const OPERATIONS: Record<string, string> = { 'chat/completions': 'ChatCompletions_Create', embeddings: 'Embeddings_Create', responses: 'Responses_Create' }

// Azure answers a request without api-version, or to a path it does not know, with this 404.
const RESOURCE_NOT_FOUND = { code: '404', message: 'Resource not found' }

function requireApiVersion(_headers: unknown, query: URLSearchParams): Problem | undefined {
  return query.get('api-version') ? undefined : { kind: 'not_found', method: '', path: '' }
}

const DEPLOYMENT = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/
const DEPLOYMENT_HANDLERS: Record<string, Handler> = { 'chat/completions': chat, embeddings }

function throttled(ctx: ErrorContext, seconds: number, what: string): JsonObject {
  const operation = /(chat\/completions|embeddings|responses)$/.exec(ctx.path)?.[1]
  const deployment = DEPLOYMENT.test(ctx.path) ? ctx.param : ''
  const version = ctx.query.get('api-version')
  return {
    code: '429',
    message:
      `Requests to the ${OPERATIONS[operation ?? ''] ?? 'ChatCompletions_Create'} Operation under Azure OpenAI API version ${version ?? 'v1'} have exceeded ${what} of your current OpenAI S0 pricing tier` +
      `${deployment ? ` (deployment ${deployment})` : ''}. Please retry after ${Math.ceil(seconds)} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.`,
  }
}

export const azure: Provider = {
  name: 'azure',
  requestIdHeaders: ['apim-request-id', 'x-request-id'],
  defaultRetry: 'retry-after-both',

  // `api-key`; a Microsoft Entra ID token (and the v1 API's OpenAI-style key) comes as a Bearer token.
  credential(headers) {
    return headerValue(headers, 'api-key') ?? bearerToken(headers)
  },

  route(method, path): Route | undefined {
    if (method !== 'POST' && method !== 'GET') return undefined
    const d = DEPLOYMENT.exec(path)
    if (d && method === 'POST') {
      const [, deployment, operation] = d
      return { handler: DEPLOYMENT_HANDLERS[operation!]!, param: safeDecode(deployment!), jsonBody: true, check: requireApiVersion }
    }
    if (method === 'POST' && path === '/openai/responses') return { handler: responses, param: '', jsonBody: true, check: requireApiVersion }
    return path.startsWith('/openai/v1/') ? v1Route(method, path.slice('/openai/v1'.length), chat) : undefined
  },

  error(problem, ctx): JsonAnswer {
    switch (problem.kind) {
      case 'missing_key':
        return azureError(401, { code: '401', message: 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.' })
      case 'invalid_key':
        return azureError(401, {
          code: '401',
          message:
            'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        })
      case 'forbidden':
        return azureError(403, { code: '403', message: 'Access denied due to Virtual Network/Firewall rules.' })
      case 'not_found':
        return azureError(404, RESOURCE_NOT_FOUND)
      case 'rate_limit':
        return azureError(429, throttled(ctx, problem.seconds ?? 2, 'call rate limit'))
      case 'quota':
        // A used-up token quota is a 429 that asks for a day's wait.
        return { ...azureError(429, throttled(ctx, QUOTA_SECONDS, 'token rate limit')), headers: { 'retry-after': String(QUOTA_SECONDS), 'retry-after-ms': String(QUOTA_SECONDS * 1000) } }
      default: {
        const { status, body } = openaiError(problem)
        return { type: 'json', status, headers: {}, body }
      }
    }
  },
}

function azureError(status: number, error: JsonObject): JsonAnswer {
  return { type: 'json', status, headers: {}, body: { error } }
}
