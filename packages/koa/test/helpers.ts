import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type Koa from 'koa'

export interface Served {
  origin: string
  /** Errors Koa emitted on the app (its default handler would print them). */
  errors: Error[]
  close(): Promise<void>
}

export async function serve(app: Koa): Promise<Served> {
  const errors: Error[] = []
  app.on('error', (err: Error) => errors.push(err))
  const server = http.createServer(app.callback())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export const K1 = 'sk-ant-api03-KOA-TEST-PRIMARY-aaaa1111'
export const K2 = 'sk-ant-api03-KOA-TEST-SECOND-bbbb2222'

/** Bridge options with one Anthropic provider, two keys, pointed at the scripted upstream. */
export function anthropicAt(baseURL: string) {
  return { providers: { anthropic: { keys: [K1, K2], baseURL } } }
}

/** Reads a fetch body until `marker` appears, or fails after `timeoutMs`. */
export async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, marker: string, timeoutMs = 3000): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  const timeout = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(marker)}; got ${JSON.stringify(text)}`)), timeoutMs)
    t.unref()
  })
  while (!text.includes(marker)) {
    const { value, done } = await Promise.race([reader.read(), timeout])
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

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  /** How the response body ended: 'end' (cleanly) or the error that cut it. */
  ended: 'end' | Error
}

/** A raw HTTP exchange: headers and bytes exactly as sent (fetch decodes gzip), and how the body ended. */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      const done = (ended: 'end' | Error): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ended })
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => done('end'))
      res.on('error', (err) => done(err))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}
