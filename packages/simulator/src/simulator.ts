/** The simulator's HTTP server: records each request, applies its key's fault, routes it and delivers the answer. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Answer, JsonObject, Provider } from './answer.js'
import { deliver, type Exchange } from './deliver.js'
import { FaultQueue, faultAnswer, isErrorFault, validateFault, type DeliveryFault } from './faults.js'
import { anthropic } from './providers/anthropic.js'
import { openai } from './providers/openai.js'
import type { Fault, SimRequest, Simulator, SimulatorOptions } from './types.js'

const DEFAULT_TIMEOUT_MS = 5000

function fail(message: string): never {
  throw new TypeError(`@aibridge/simulator: ${message}`)
}

const OPTION_NAMES = new Set(['port', 'host', 'eventDelayMs', 'validKeys'])

/** A value as it would be written in code: a string shows its quotes. */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

function validateOptions(options: SimulatorOptions): void {
  if (typeof options !== 'object' || options === null) fail('options must be an object')
  const unknown = Object.keys(options).filter((k) => !OPTION_NAMES.has(k))
  if (unknown.length > 0) fail(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${[...OPTION_NAMES].join(', ')})`)
  const { port, host, eventDelayMs, validKeys } = options
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) fail(`options.port must be an integer from 0 to 65535, got ${shown(port)}`)
  if (host !== undefined && (typeof host !== 'string' || host === '')) fail('options.host must be a non-empty string')
  if (eventDelayMs !== undefined && !(Number.isFinite(eventDelayMs) && eventDelayMs >= 0)) fail(`options.eventDelayMs must be a number >= 0, got ${shown(eventDelayMs)}`)
  if (validKeys !== undefined) {
    if (!Array.isArray(validKeys)) fail('options.validKeys must be an array of strings')
    validKeys.forEach((k, i) => {
      if (typeof k !== 'string' || k === '') fail(`options.validKeys[${i}] must be a non-empty string`)
    })
  }
}

/** Which provider a path belongs to, and the path below its prefix. */
function resolve(rawPath: string, headers: IncomingHttpHeaders): { provider: Provider; path: string; known: boolean } {
  const m = /^\/(anthropic|openai)(\/.*)?$/.exec(rawPath)
  if (m) return { provider: m[1] === 'anthropic' ? anthropic : openai, path: m[2] ?? '/', known: true }
  // Outside both prefixes: answer 404 in the shape the client most likely expects.
  const looksAnthropic = headers['x-api-key'] !== undefined || headers['anthropic-version'] !== undefined
  return { provider: looksAnthropic ? anthropic : openai, path: rawPath, known: false }
}

function parseJsonObject(body: Buffer): JsonObject | string {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    return 'The request body is not valid JSON.'
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'The request body must be a JSON object.'
  return value as JsonObject
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

/**
 * Starts a simulated Anthropic and OpenAI API on `host:port` (default `127.0.0.1`, a free port).
 * Point the Anthropic SDK at `sim.anthropicBaseURL` and the OpenAI SDK at `${sim.openaiBaseURL}/v1`.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  validateOptions(options)
  const host = options.host ?? '127.0.0.1'
  const eventDelayMs = options.eventDelayMs ?? 0
  const validKeys = options.validKeys ? new Set(options.validKeys) : undefined

  const requests: SimRequest[] = []
  /** Requests whose exchange has not closed yet, so `waitForAbort` finds them even after `reset()`. */
  const inFlight = new Map<number, SimRequest>()
  const faults = new FaultQueue()
  const usedByKey = new Map<string, number>()
  const stalls = new Set<() => void>()
  const watchers = new Set<() => void>()
  let nextId = 1
  let closing = false

  const notify = (): void => {
    for (const watcher of [...watchers]) watcher()
  }

  function answerFor(record: SimRequest, known: boolean, provider: Provider, requestId: string): { answer: Answer; delivery?: DeliveryFault } {
    const { key } = record
    if (key === null) return { answer: provider.error({ kind: 'missing_key' }, requestId) }
    const route = known ? provider.route(record.method, record.path) : undefined
    if (!route) return { answer: provider.error({ kind: 'not_found', method: record.method, path: record.path }, requestId) }

    const fault = faults.take(key)
    if (fault) record.fault = fault.kind
    if (fault && isErrorFault(fault)) return { answer: faultAnswer(provider, fault, requestId) }
    const delivery = fault as DeliveryFault | undefined
    if (validKeys && !validKeys.has(key)) return { answer: provider.error({ kind: 'invalid_key' }, requestId), delivery }

    let body: JsonObject = {}
    if (route.jsonBody) {
      const parsed = parseJsonObject(record.body)
      if (typeof parsed === 'string') return { answer: provider.error({ kind: 'invalid_request', message: parsed }, requestId), delivery }
      body = parsed
    }
    const used = (usedByKey.get(key) ?? 0) + 1
    usedByKey.set(key, used)
    const answer = route.handler({ requestId, n: record.id, param: route.param, query: new URLSearchParams(record.query), body, used })
    return { answer, delivery }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = nextId++
    const requestId = `req_sim_${id}`
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const { provider, path, known } = resolve(q === -1 ? url : url.slice(0, q), req.headers)
    const record: SimRequest = {
      id,
      provider: provider.name,
      method: req.method ?? 'GET',
      path,
      query: q === -1 ? '' : url.slice(q + 1),
      headers: req.headers,
      key: provider.credential(req.headers),
      body: Buffer.alloc(0),
      status: 0,
      aborted: false,
      fault: null,
    }
    inFlight.set(id, record)
    let listed = false
    const list = (): void => {
      if (listed) return
      listed = true
      requests.push(record)
    }
    const chunks: Buffer[] = []
    let ours = false
    res.on('close', () => {
      inFlight.delete(id)
      if (!res.writableFinished && !ours && !closing) {
        record.aborted = true
        if (!listed) record.body = Buffer.concat(chunks)
        list()
      }
      notify()
    })

    try {
      for await (const chunk of req) chunks.push(chunk as Buffer)
    } catch {
      return // the client went away while sending; the close handler records it
    }
    record.body = Buffer.concat(chunks)
    list()
    notify()

    const { answer, delivery } = answerFor(record, known, provider, requestId)
    const exchange: Exchange = {
      res,
      eventDelayMs,
      // Both SDKs honour `x-should-retry`; without it their automatic retries (2 by default, on 429
      // and 5xx) would send a faulted request again and hide the fault from the test.
      headers: { [provider.requestIdHeader]: requestId, ...(record.fault ? { 'x-should-retry': 'false' } : {}) },
      onStatus(status) {
        record.status = status
        notify()
      },
      stalled() {
        return new Promise((resolve) => {
          if (res.destroyed) return resolve()
          const done = (): void => {
            stalls.delete(done)
            res.off('close', done)
            resolve()
          }
          stalls.add(done)
          res.once('close', done)
        })
      },
      die() {
        ours = true
        res.destroy()
      },
    }
    await deliver(exchange, answer, delivery)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // A bug here must not take down the test process; the client sees the connection close.
      res.destroy()
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${urlHost(host)}:${port}`

  function waitUntil<T>(find: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        watchers.delete(check)
        reject(new Error(`@aibridge/simulator: ${what()} within ${timeoutMs} ms`))
      }, timeoutMs)
      function check(): void {
        let found: T | undefined
        try {
          found = find()
        } catch (err) {
          watchers.delete(check)
          clearTimeout(timer)
          reject(err)
          return
        }
        if (found === undefined) return
        watchers.delete(check)
        clearTimeout(timer)
        resolve(found)
      }
      watchers.add(check)
      check()
    })
  }

  const sim: Simulator = {
    url,
    port,
    anthropicBaseURL: `${url}/anthropic`,
    openaiBaseURL: `${url}/openai`,
    requests,

    fault(key: string, fault: Fault, faultOptions?: { times?: number }) {
      validateFault(key, fault, faultOptions?.times)
      faults.add(key, fault, faultOptions?.times)
    },

    clearFaults(key?: string) {
      faults.clear(key)
    },

    release() {
      for (const done of [...stalls]) done()
    },

    waitFor(predicate, timeoutMs = DEFAULT_TIMEOUT_MS) {
      return waitUntil(() => requests.find(predicate), timeoutMs, () => `no matching request among ${requests.length} received`)
    },

    async waitForAbort(id, timeoutMs = DEFAULT_TIMEOUT_MS) {
      const aborted = (): SimRequest | undefined => {
        const r = inFlight.get(id) ?? requests.find((x) => x.id === id)
        return r?.aborted ? r : undefined
      }
      await waitUntil(aborted, timeoutMs, () => `request ${id} was not aborted by its client`)
    },

    reset() {
      requests.length = 0
      faults.clear()
      usedByKey.clear()
    },

    close() {
      // Stalled responses are not released: their sockets are destroyed with the rest.
      closing = true
      return new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
  return sim
}
