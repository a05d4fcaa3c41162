import type { FastifyInstance } from 'fastify'
import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach } from 'vitest'
import { startUpstream, type Upstream } from './upstream.js'

export const A1 = 'sk-ant-test-PRIMARY-aaaa1111'
export const A2 = 'sk-ant-test-SECOND-bbbb2222'
export const O1 = 'sk-proj-test-PRIMARY-cccc3333'
export const O2 = 'sk-proj-test-SECOND-dddd4444'

/** Bridge options for both providers against one scripted upstream. */
export function providers(up: Upstream) {
  return {
    anthropic: { keys: [A1, A2], baseURL: up.url },
    openai: { keys: [O1, O2], baseURL: up.url },
  }
}

/** Listens on a real socket and returns `http://127.0.0.1:PORT`. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** A fresh upstream per test, and the apps a test started closed after it (before the upstream). */
export function setup(): { readonly up: Upstream; own(app: FastifyInstance): FastifyInstance } {
  let up: Upstream | undefined
  let apps: FastifyInstance[] = []
  beforeEach(async () => {
    up = await startUpstream()
  })
  afterEach(async () => {
    const closing = apps
    apps = []
    await Promise.all(closing.map((app) => app.close()))
    await up?.close()
  })
  return {
    get up() {
      if (!up) throw new Error('no upstream outside a test')
      return up
    },
    own(app) {
      apps.push(app)
      return app
    },
  }
}

export interface Response {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  text: string
  json<T = any>(): T
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string | number>
  body?: Buffer | string
}

/** Starts a request over a fresh connection; the path goes out exactly as given. */
export function open(base: string, path: string, options: RequestOptions = {}): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const { hostname, port } = new URL(base)
  const req = request({ host: hostname, port, path, method: options.method ?? (options.body === undefined ? 'GET' : 'POST'), headers: options.headers, agent: false })
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve)
    req.on('error', reject)
  })
  return { req, response }
}

/** One whole request and response. */
export async function send(base: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const { req, response } = open(base, path, options)
  req.end(options.body)
  const res = await response
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  const body = Buffer.concat(chunks)
  const text = body.toString('utf8')
  return { status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) }
}

/** A JSON POST. */
export function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return send(base, path, { headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

/** Reads a response until `marker` has arrived; fails after `timeoutMs`. */
export function readUntil(res: IncomingMessage, marker: string, timeoutMs = 3000): Promise<string> {
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
      res.off('data', onData).off('end', onEnd)
      res.pause()
      if (err) reject(err)
      else resolve(text)
    }
    res.on('data', onData).on('end', onEnd)
  })
}

/** Reads the rest of a response as text. */
export async function readRest(res: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of res) text += (chunk as Buffer).toString('utf8')
  return text
}
