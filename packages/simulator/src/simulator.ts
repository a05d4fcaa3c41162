/** The simulator's HTTP server: records each request, applies its key's fault, routes it and delivers the answer. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Answer, ErrorContext, JsonObject, Problem, Provider } from './answer.js'
import { deliver, type Delivery, type Exchange } from './deliver.js'
import { FaultQueue, faultAnswer, faultProblem, isErrorFault, streamErrorAsStatus, streamErrorHeaders, validateFault, type DeliveryFault } from './faults.js'
import { anthropic } from './providers/anthropic.js'
import { azure } from './providers/azure.js'
import { gemini } from './providers/gemini.js'
import { openai } from './providers/openai.js'
import type { Fault, ProviderName, SimRequest, Simulator, SimulatorOptions } from './types.js'

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
  if (validKeys !== undefined) validateKeyLists(validKeys)
}

function validateKeyList(list: unknown, name: string): void {
  if (!Array.isArray(list)) fail(`${name} must be an array of strings`)
  list.forEach((k, i) => {
    if (typeof k !== 'string' || k === '') fail(`${name}[${i}] must be a non-empty string`)
  })
}

function validateKeyLists(validKeys: unknown): void {
  if (Array.isArray(validKeys)) return validateKeyList(validKeys, 'options.validKeys')
  if (typeof validKeys !== 'object' || validKeys === null) fail('options.validKeys must be an array of strings, or an object of arrays by provider')
  for (const [name, list] of Object.entries(validKeys)) {
    if (!(name in PROVIDERS)) fail(`options.validKeys.${name}: unknown provider (known: ${Object.keys(PROVIDERS).join(', ')})`)
    validateKeyList(list, `options.validKeys.${name}`)
  }
}

const PROVIDERS: Record<ProviderName, Provider> = { anthropic, openai, gemini, azure }

/** Which provider a path belongs to, and the path below its prefix. */
function resolve(rawPath: string, headers: IncomingHttpHeaders): { provider: Provider; path: string; known: boolean } {
  const m = /^\/(anthropic|openai|gemini|azure)(\/.*)?$/.exec(rawPath)
  if (m) return { provider: PROVIDERS[m[1] as ProviderName], path: m[2] ?? '/', known: true }
  // Outside every prefix: answer 404 in the shape the client most likely expects.
  const looksLike =
    headers['x-api-key'] !== undefined || headers['anthropic-version'] !== undefined ? anthropic
    : headers['x-goog-api-key'] !== undefined ? gemini
    : headers['api-key'] !== undefined ? azure
    : openai
  return { provider: looksLike, path: rawPath, known: false }
}

/** Whether a provider issued a key: per `validKeys`, which may list keys for all providers or for each. */
function keyChecker(validKeys: SimulatorOptions['validKeys']): (provider: ProviderName, key: string) => boolean {
  if (validKeys === undefined) return () => true
  if (Array.isArray(validKeys)) {
    const all = new Set(validKeys)
    return (_provider, key) => all.has(key)
  }
  const byProvider = new Map(Object.entries(validKeys).map(([name, keys]) => [name, new Set(keys)]))
  return (provider, key) => byProvider.get(provider)?.has(key) ?? true
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
 * Starts a simulated Anthropic, OpenAI, Gemini and Azure OpenAI API on `host:port` (default
 * `127.0.0.1`, a free port). Point the Anthropic SDK at `sim.anthropicBaseURL`, the OpenAI SDK at
 * `${sim.openaiBaseURL}/v1`, `@google/genai` at `sim.geminiBaseURL` and `AzureOpenAI` at `sim.azureBaseURL`.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  validateOptions(options)
  const host = options.host ?? '127.0.0.1'
  const eventDelayMs = options.eventDelayMs ?? 0
  const issued = keyChecker(options.validKeys)

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

  function answerFor(record: SimRequest, known: boolean, provider: Provider, request: Omit<ErrorContext, 'param'>): { answer: Answer; delivery?: Delivery } {
    const { key } = record
    const route = known ? provider.route(record.method, record.path) : undefined
    const errorContext: ErrorContext = { ...request, param: route?.param ?? '' }
    const error = (problem: Problem) => provider.error(problem, errorContext)
    if (key === null) return { answer: error({ kind: 'missing_key' }) }
    if (!route) return { answer: error({ kind: 'not_found', method: record.method, path: record.path }) }

    const fault = faults.take(key)
    if (fault) record.fault = fault.kind
    if (fault && isErrorFault(fault)) return { answer: faultAnswer(provider, fault, errorContext) }
    const delivery = fault as DeliveryFault | undefined
    const refuse = (problem: Problem) => ({ answer: error(problem), delivery: delivery?.kind === 'stream_error' ? undefined : delivery })
    if (!issued(provider.name, key)) return refuse({ kind: 'invalid_key' })
    const problem = route.check?.(record.headers, errorContext.query)
    if (problem) return refuse(problem)

    let body: JsonObject = {}
    if (route.jsonBody) {
      const parsed = parseJsonObject(record.body)
      if (typeof parsed === 'string') return refuse({ kind: 'invalid_request', message: parsed })
      body = parsed
    }
    const used = (usedByKey.get(key) ?? 0) + 1
    usedByKey.set(key, used)
    const answer = route.handler({ requestId: errorContext.requestId, n: record.id, param: route.param, query: errorContext.query, headers: record.headers, body, used, error })
    if (delivery?.kind !== 'stream_error') return { answer, delivery }
    // The error a stream reports in band; a request that is not streamed gets it as a status.
    if (answer.type === 'json') return { answer: answer.status < 300 ? streamErrorAsStatus(provider, delivery, errorContext) : answer }
    const afterEvents = Math.min(delivery.afterEvents ?? 0, answer.events.length - 1)
    const event = answer.errorEvent(faultProblem(provider, delivery), afterEvents, { responsesEvent: delivery.responsesEvent ?? 'error' })
    return { answer: { ...answer, headers: { ...answer.headers, ...streamErrorHeaders(delivery) } }, delivery: { kind: 'stream_error', afterEvents, event } }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = nextId++
    const requestId = `req_sim_${id}`
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const { provider, path, known } = resolve(q === -1 ? url : url.slice(0, q), req.headers)
    const query = q === -1 ? '' : url.slice(q + 1)
    const params = new URLSearchParams(query)
    const record: SimRequest = {
      id,
      provider: provider.name,
      method: req.method ?? 'GET',
      path,
      query,
      headers: req.headers,
      key: provider.credential(req.headers, params),
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

    const { answer, delivery } = answerFor(record, known, provider, { requestId, path, query: params })
    const failed = answer.type === 'json' && answer.status >= 400
    const exchange: Exchange = {
      res,
      eventDelayMs,
      // The SDKs honour `x-should-retry`; without it their automatic retries (2 by default, on 429
      // and 5xx) would send a faulted request again and hide the fault from the test. Every error
      // carries it, so a key the simulator refuses answers like a scripted `unauthorized`.
      headers: {
        ...Object.fromEntries(provider.requestIdHeaders.map((name) => [name, requestId])),
        ...(record.fault || failed ? { 'x-should-retry': 'false' } : {}),
      },
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
    geminiBaseURL: `${url}/gemini`,
    azureBaseURL: `${url}/azure`,
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
