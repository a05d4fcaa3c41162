import Anthropic from '@anthropic-ai/sdk'
import http from 'node:http'
import OpenAI from 'openai'

/** An Anthropic SDK client that sends no credential, so the bridge serves it from the pool. */
export function anthropicClient(baseURL: string, apiKey?: string): Anthropic {
  return apiKey
    ? new Anthropic({ baseURL, apiKey, maxRetries: 0 })
    : new Anthropic({ baseURL, apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': null, authorization: null }, maxRetries: 0 })
}

/** An OpenAI SDK client that sends no credential (the SDK insists on an apiKey; the header is then removed). */
export function openaiClient(baseURL: string, apiKey?: string): OpenAI {
  return apiKey
    ? new OpenAI({ baseURL, apiKey, maxRetries: 0 })
    : new OpenAI({ baseURL, apiKey: 'unused', defaultHeaders: { authorization: null }, maxRetries: 0 })
}

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** A request with the path sent exactly as given (fetch would normalize `..` and `%2e`). */
export function rawRequest(
  url: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Reads a fetch body until `marker` appears in the text received so far. */
export async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, marker: string, timeoutMs = 5000): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  const deadline = Date.now() + timeoutMs
  while (!text.includes(marker)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(marker)}; got ${JSON.stringify(text)}`)
    const { value, done } = await reader.read()
    if (done) throw new Error(`stream ended before ${JSON.stringify(marker)}; got ${JSON.stringify(text)}`)
    text += decoder.decode(value, { stream: true })
  }
  return text
}

export async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return text + decoder.decode()
    text += decoder.decode(value, { stream: true })
  }
}
