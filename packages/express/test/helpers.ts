import express from 'express'
import express4 from 'express4'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Express } from 'express'

/** Every test file runs against both majors. */
export const flavours = [
  { name: 'express 5', express },
  { name: 'express 4', express: express4 },
]

export interface Served {
  origin: string
  close(): Promise<void>
}

export async function serve(app: Express): Promise<Served> {
  const server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export const K1 = 'sk-ant-api03-EXPRESS-TEST-PRIMARY-aaaa1111'
export const K2 = 'sk-ant-api03-EXPRESS-TEST-SECOND-bbbb2222'

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

/** A raw HTTP exchange, so response bytes and headers are seen exactly as sent (fetch decodes gzip). */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}
