/** The official SDKs as a user configures them, with retries off so each call is one request. */
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'

/** An Anthropic SDK client sending `apiKey`; without one it sends no credential, so the bridge serves it from the pool. */
export function anthropicClient(baseURL: string, apiKey?: string): Anthropic {
  return apiKey
    ? new Anthropic({ baseURL, apiKey, maxRetries: 0 })
    : new Anthropic({ baseURL, apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': null, authorization: null }, maxRetries: 0 })
}

/** An OpenAI SDK client sending `apiKey`; without one it sends no credential (the SDK insists on an apiKey; the header is then removed). */
export function openaiClient(baseURL: string, apiKey?: string): OpenAI {
  return apiKey
    ? new OpenAI({ baseURL, apiKey, maxRetries: 0 })
    : new OpenAI({ baseURL, apiKey: 'unused', defaultHeaders: { authorization: null }, maxRetries: 0 })
}
