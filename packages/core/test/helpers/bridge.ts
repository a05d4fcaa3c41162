import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { createBridge, type Bridge, type BridgeOptions, type InterceptionRecord } from '../../src/index.js'

export interface Running {
  bridge: Bridge
  /** `http://127.0.0.1:PORT` of the host app that serves `bridge.handle`. */
  url: string
  port: number
  server: Server
  records: InterceptionRecord[]
  /** Every line the bridge logged, as pino wrote it (JSON). */
  logs: string[]
  /** Resolves once `n` records have been emitted. */
  waitForRecords(n: number, timeoutMs?: number): Promise<InterceptionRecord[]>
  /** Stops the host app only. */
  closeHost(): Promise<void>
  /** Stops the host app, then the bridge. */
  close(): Promise<void>
}

/** A pino logger at the most verbose level whose lines are collected, as a host would log them. */
export function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = []
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
  return { logger, lines }
}

/**
 * A plain node:http app on 127.0.0.1:0 serving `bridge.handle(req, res)`, with records and log
 * lines collected. `onInterception` and `logger` given in `options` replace the collecting ones.
 */
export async function startBridge(options: BridgeOptions, serve?: (bridge: Bridge) => Parameters<typeof createServer>[1]): Promise<Running> {
  const records: InterceptionRecord[] = []
  const { logger, lines } = capturingLogger()
  const bridge = createBridge({
    logger,
    onInterception: (r) => void records.push(structuredClone(r)),
    ...options,
  })
  const server = createServer(serve ? serve(bridge) : (req, res) => void bridge.handle(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const running: Running = {
    bridge,
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    records,
    logs: lines,
    async waitForRecords(n, timeoutMs = 5000) {
      await until(() => records.length >= n, timeoutMs, () => `expected ${n} records, got ${records.length}`)
      return records
    },
    async closeHost() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
    async close() {
      await running.closeHost()
      await bridge.close()
    },
  }
  return running
}

/** Polls `cond` every few ms until it holds. */
export async function until(cond: () => boolean, timeoutMs = 5000, what: () => string = () => 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  text: string
  json<T = any>(): T
}

export interface RawRequestOptions {
  method?: string
  headers?: Record<string, string | number | string[]>
  body?: Buffer | string
}

/**
 * One request over a fresh connection, with the request target sent exactly as given (fetch and
 * URL would normalize `..`, `%2e` and backslashes away).
 */
export function raw(base: string, path: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path, method: options.method ?? (options.body !== undefined ? 'POST' : 'GET'), headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('aborted', () => reject(new Error('response aborted')))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          const text = body.toString('utf8')
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) })
        })
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** A JSON POST, the common case. */
export function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return raw(base, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  })
}

/** Keys long and distinctive enough that finding one anywhere means it leaked. */
export function testKey(label: string): string {
  return `sk-${label}-q7W3xR9vL2mN8pK4sT6uY-${label}`
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
