import { openai } from './openai.js'
import { present, type ProviderDialect } from './types.js'

/**
 * Azure OpenAI: the key in `api-key` (a Microsoft Entra token in `Authorization: Bearer` is a client
 * credential too), OpenAI's error shape and rate-limit headers. Each resource has its own endpoint,
 * so there is no default base URL. Both URL styles (`/openai/deployments/{name}/...?api-version=`
 * and `/openai/v1/...`) pass through with their query as sent.
 */
export const azure: ProviderDialect = {
  ...openai,
  type: 'azure',
  defaultBaseURL: undefined,
  requestIdHeaders: ['apim-request-id', 'x-request-id'],
  hasCredential: (h) => present(h['api-key']) || present(h.authorization, true),
  injectKey(headers, key) {
    headers['api-key'] = key
  },
}
