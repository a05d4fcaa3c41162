/** The official SDKs as a user configures them, with retries off so each call is one request. */
import Anthropic from '@anthropic-ai/sdk'
import { GoogleGenAI } from '@google/genai'
import OpenAI, { AzureOpenAI } from 'openai'

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

/**
 * A Google Gen AI SDK client for the Gemini API sending `apiKey`; without one it sends an empty
 * `x-goog-api-key` (the SDK adds its own key only when the header is absent), which is no credential.
 */
export function geminiClient(baseUrl: string, apiKey?: string): GoogleGenAI {
  return apiKey
    ? new GoogleGenAI({ apiKey, httpOptions: { baseUrl } })
    : new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl, headers: { 'x-goog-api-key': '' } } })
}

/** openai's AzureOpenAI client on `endpoint` (deployment URLs); without `apiKey` it sends no `api-key`. */
export function azureClient(endpoint: string, apiKey?: string): AzureOpenAI {
  const apiVersion = '2024-10-21'
  return apiKey
    ? new AzureOpenAI({ endpoint, apiKey, apiVersion, maxRetries: 0 })
    : new AzureOpenAI({ endpoint, apiKey: 'unused', apiVersion, defaultHeaders: { 'api-key': null }, maxRetries: 0 })
}

/**
 * openai's AzureOpenAI client on the v1 API (`baseURL` ends in `/openai/v1`); without `apiKey` it sends
 * no `api-key`. The client routes the operations that have deployment URLs (chat completions, embeddings)
 * to `/deployments/{model}/...` below any base URL, so the v1 style is used with the Responses API.
 */
export function azureV1Client(baseURL: string, apiKey?: string): AzureOpenAI {
  const apiVersion = 'preview'
  return apiKey
    ? new AzureOpenAI({ baseURL, apiKey, apiVersion, maxRetries: 0 })
    : new AzureOpenAI({ baseURL, apiKey: 'unused', apiVersion, defaultHeaders: { 'api-key': null }, maxRetries: 0 })
}
