/** Real-socket HTTP for tests: servers on a free port, requests sent byte for byte, streams read as they arrive. */
import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'

/** Listens on 127.0.0.1 and a free port; resolves with `http://127.0.0.1:PORT`. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Stops `server`, ending its open connections (held streams included) rather than waiting for them. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  text: string
  json<T = any>(): T
}

export interface SettledResponse extends RawResponse {
  /** How the body ended: 'end' (cleanly), or the error that cut it (`body` holds what came before). */
  ended: 'end' | Error
}

export interface RawRequestOptions {
  /** Default: POST with a body, GET without. */
  method?: string
  headers?: Record<string, string | number | string[]>
  body?: Buffer | string
}

/**
 * Starts a request over a fresh connection, with the request target sent exactly as given (fetch
 * and URL would normalize `..`, `%2e` and backslashes away). The caller writes and ends the body;
 * `response` resolves at the response head, and rejects if the request fails first.
 */
export function open(base: string, path: string, options: RawRequestOptions = {}): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const { hostname, port } = new URL(base)
  const method = options.method ?? (options.body !== undefined ? 'POST' : 'GET')
  const req = request({ host: hostname, port, path, method, headers: options.headers, agent: false })
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve)
    req.on('error', reject)
  })
  // A test that destroys the request on purpose need not await the response.
  response.catch(() => {})
  return { req, response }
}

/** One whole exchange that resolves however the response body ended, cut short included. */
export async function rawSettled(base: string, path: string, options: RawRequestOptions = {}): Promise<SettledResponse> {
  const { req, response } = open(base, path, options)
  req.end(options.body)
  const res = await response
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const done = (ended: 'end' | Error): void => {
      const body = Buffer.concat(chunks)
      const text = body.toString('utf8')
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text), ended })
    }
    res.on('data', (c: Buffer) => chunks.push(c))
    res.on('end', () => done('end'))
    res.on('error', done)
    res.on('aborted', () => done(new Error('response aborted')))
  })
}

/** One whole exchange; rejects when the response body is cut short. */
export async function raw(base: string, path: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const { ended, ...res } = await rawSettled(base, path, options)
  if (ended !== 'end') throw ended
  return res
}

/** A JSON POST, the common case. */
export function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return raw(base, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  })
}

/** A response being read: a node:http one, or the reader of a fetch body. */
export type BodySource = IncomingMessage | ReadableStreamDefaultReader<Uint8Array>

/**
 * Reads until `marker` has arrived in the text received so far, and returns that text; fails when
 * the body ends first or after `timeoutMs`. The rest stays unread, for `readRest`.
 */
export async function readUntil(source: BodySource, marker: string, timeoutMs = 5000): Promise<string> {
  if (source instanceof Readable) return readResponseUntil(source, marker, timeoutMs)
  const decoder = new TextDecoder()
  let text = ''
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(marker)} within ${timeoutMs} ms; got ${JSON.stringify(text)}`)), timeoutMs)
  })
  try {
    while (!text.includes(marker)) {
      const { value, done } = await Promise.race([source.read(), timeout])
      if (done) throw new Error(`ended before ${JSON.stringify(marker)}; got ${JSON.stringify(text)}`)
      text += decoder.decode(value, { stream: true })
    }
    return text
  } finally {
    clearTimeout(timer)
  }
}

function readResponseUntil(res: IncomingMessage, marker: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => done(new Error(`no ${JSON.stringify(marker)} within ${timeoutMs} ms; got ${JSON.stringify(text)}`)), timeoutMs)
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8')
      if (text.includes(marker)) done()
    }
    const onEnd = (): void => done(new Error(`ended before ${JSON.stringify(marker)}; got ${JSON.stringify(text)}`))
    function done(err?: Error): void {
      clearTimeout(timer)
      res.off('data', onData).off('end', onEnd).off('error', done)
      res.pause()
      if (err) reject(err)
      else resolve(text)
    }
    res.on('data', onData).on('end', onEnd).on('error', done)
  })
}

/** Reads the rest of a body as text, to its end. */
export async function readRest(source: BodySource): Promise<string> {
  if (source instanceof Readable) {
    let text = ''
    for await (const chunk of source) text += (chunk as Buffer).toString('utf8')
    return text
  }
  const decoder = new TextDecoder()
  let text = ''
  for (;;) {
    const { value, done } = await source.read()
    if (done) return text + decoder.decode()
    text += decoder.decode(value, { stream: true })
  }
}
