import type { IncomingMessage, ServerResponse } from 'node:http'
import { Agent, type Dispatcher } from 'undici'
import { AibridgeArgumentError, AibridgeKeyNotFoundError, describeOptionValue } from './errors.js'
import type { Provider } from './exchange.js'
import type { Engine } from './failover.js'
import { fetchFront, type BridgeFetch, type FetchHost } from './fetch-front.js'
import { KeyPool, type KeyState } from './key-pool.js'
import { MemoryKeyStore, type KeyStateStore } from './key-store.js'
import { Ledger } from './ledger.js'
import { describeError, safeLogger, silentLogger } from './logger.js'
import { acceptNodeRequest, adapterAnswer, answerNodeRequest, serveNodeRequest } from './node-front.js'
import { checkObserver, Observers, type BridgeObserver } from './observer.js'
import { resolveNewKeys, resolveOptions, type BridgeOptions, type ResolvedOptions } from './options.js'
import { splitTarget, type Target } from './path.js'
import type { BridgeResponse } from './respond.js'

export type NextFunction = (err?: unknown) => void

/** For adapters: what the framework already knows about the request. */
export interface DispatchOptions {
  /** The path below the mount point, starting with '/', query included. @default req.url */
  path?: string
  /**
   * The body a host framework already read (raw buffer, string, or parsed object), used only when the
   * request stream was consumed (an untouched stream is read instead); or a stream a host put in front
   * of the request (a decoding hook), which the bridge reads within its limit.
   */
  body?: unknown
}

export interface HandleOptions extends DispatchOptions {
  /** Called for paths that name no configured provider; without it they get a JSON 404. */
  next?: NextFunction
}

const NOT_FOUND = Buffer.from(JSON.stringify({ error: { message: 'aibridge: no provider at this path', type: 'not_found_error' } }))

/**
 * A key pool with failover in front of one or more LLM providers. Create it with `createBridge`.
 * The bridge holds setup, the public methods and shutdown; the request path lives in `node-front`
 * (a node:http request, its body and its answer), `failover` (the loop), `deliver` (the provider's
 * answer on its way to the client) and `ledger` (requests in flight and their records).
 */
export class Bridge {
  readonly #engine: Engine
  readonly #providers = new Map<string, Provider>()
  // Dispatchers the bridge made (closed by close()); a provider's own `dispatcher` is the host's.
  readonly #own: Dispatcher[] = []
  readonly #store: KeyStateStore
  // Requests being served and their records; close() waits for them before closing the upstream pools.
  readonly #ledger: Ledger
  #closed = false
  #closing: Promise<void> | undefined
  readonly #fetchHost: FetchHost

  constructor(options: BridgeOptions) {
    const resolved: ResolvedOptions = resolveOptions(options)
    const logger = safeLogger(options.logger)
    const recordsRead = options.onInterception !== undefined || logger !== silentLogger
    this.#engine = { options: resolved, logger, observers: new Observers(logger), recordsRead }
    this.#store = options.store ?? new MemoryKeyStore()
    this.#store.useLogger?.(logger)
    this.#ledger = new Ledger(this.#engine, options.onInterception)
    const { timeouts, cooldowns } = resolved
    let agent: Agent | undefined
    for (const config of resolved.providers.values()) {
      let dispatcher = config.dispatcher
      if (!dispatcher) {
        // One keep-alive pool per upstream origin, shared by the providers that use it.
        dispatcher = agent ??= new Agent({ connect: { timeout: timeouts.connectMs }, headersTimeout: timeouts.headersMs, bodyTimeout: timeouts.bodyIdleMs })
      }
      const pool = new KeyPool(config.name, config.keys, config.keyOrder, cooldowns, this.#store, (op, err) =>
        logger.error({ provider: config.name, op, err: describeError(err) }, 'aibridge: key store failed; serving from local state'),
      )
      this.#providers.set(config.name, { config, pool, dispatcher })
    }
    if (agent) this.#own.push(agent)
    const bridge = this
    const ledger = this.#ledger
    this.#fetchHost = {
      engine: this.#engine,
      get closed() {
        return bridge.#closed
      },
      track: (ex) => ledger.track(ex),
    }
  }

  /**
   * Serves a request: a plain `node:http` handler, or Connect/Express middleware when given `next`.
   * Resolves once the response is under way (written, or streaming from the provider).
   */
  async handle(req: IncomingMessage, res: ServerResponse, nextOrOptions?: NextFunction | HandleOptions): Promise<void> {
    const options = typeof nextOrOptions === 'function' ? { next: nextOrOptions } : (nextOrOptions ?? {})
    const found = this.#route(options.path ?? req.url ?? '/')
    if (!found) {
      if (options.next) return options.next()
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': NOT_FOUND.length }).end(NOT_FOUND)
      return
    }
    const ex = acceptNodeRequest(this.#ledger, found.provider, req, res, found.target)
    const settled = await serveNodeRequest(this.#engine, ex, req, found.target, options.body, this.#closed)
    answerNodeRequest(this.#engine, ex, settled, res)
  }

  /**
   * The core of `handle` for framework adapters: returns the response to send (the adapter sends it
   * the framework's way), or undefined when the path names no configured provider.
   */
  async dispatch(req: IncomingMessage, res: ServerResponse, options: DispatchOptions = {}): Promise<BridgeResponse | undefined> {
    const found = this.#route(options.path ?? req.url ?? '/')
    if (!found) return undefined
    const ex = acceptNodeRequest(this.#ledger, found.provider, req, res, found.target)
    const settled = await serveNodeRequest(this.#engine, ex, req, found.target, options.body, this.#closed)
    return adapterAnswer(this.#engine, ex, settled, res)
  }

  #route(url: string): { provider: Provider; target: Target } | undefined {
    const target = splitTarget(url)
    const provider = target && this.#providers.get(target.provider)
    return provider ? { provider, target: target! } : undefined
  }

  /**
   * A fetch-compatible function served by `provider`'s pool, for SDKs called from inside the app
   * (`new OpenAI({ apiKey: 'pool', fetch: bridge.fetch('openai') })`): the same failover, records and
   * events as a request through the mount, without an HTTP hop. The URL's path and query are the
   * provider path (its origin is ignored); credentials the caller sends are dropped. Throws
   * AibridgeArgumentError for a provider that is not configured.
   */
  fetch(provider: string): BridgeFetch {
    return fetchFront(this.#fetchHost, this.#configured('fetch(provider)', provider))
  }

  /**
   * Replaces a provider's pool, validated as at creation. Keys that stay keep their state (it lives in
   * the store under the key's id); new keys start valid; removed keys are no longer chosen, though a
   * request already failing over finishes its walk over the keys it started with. `keyStates()` shows
   * the new pool at once.
   */
  setKeys(provider: string, keys: readonly string[]): void {
    const p = this.#configured('setKeys(provider, keys)', provider)
    const secrets = resolveNewKeys(p.config, keys)
    const { added, removed } = p.pool.replace(secrets)
    p.config.keys = secrets
    this.#engine.logger.info(
      { provider, keys: p.pool.keys.length, added: added.map((k) => k.hint), removed: removed.map((k) => k.hint) },
      'aibridge: keys replaced',
    )
  }

  /** The provider named `name`; AibridgeArgumentError naming the method otherwise. */
  #configured(method: string, name: unknown): Provider {
    const p = typeof name === 'string' ? this.#providers.get(name) : undefined
    if (!p) throw new AibridgeArgumentError(`${method}: no provider ${describeOptionValue(name)} (configured: ${this.providerNames.join(', ')})`)
    return p
  }

  /** The configured providers' names: the first path segment each answers on. */
  get providerNames(): string[] {
    return [...this.#providers.keys()]
  }

  /** Every key of every provider with its current state. */
  keyStates(): Record<string, KeyState[]> {
    const now = Date.now()
    const out: Record<string, KeyState[]> = {}
    for (const [name, p] of this.#providers) out[name] = p.pool.states(now)
    return out
  }

  /** Puts a key back into service, by id or hint. Throws when none or several keys match. */
  resetKey(provider: string, idOrHint: string): void {
    if (typeof provider !== 'string' || typeof idOrHint !== 'string') {
      throw new AibridgeArgumentError(`resetKey(provider, idOrHint) takes two strings, got ${typeof provider} and ${typeof idOrHint}`)
    }
    const p = this.#providers.get(provider)
    // Not echoed: a key passed in the wrong argument must not end up in a log.
    if (!p) throw new AibridgeKeyNotFoundError(`no such provider (configured: ${[...this.#providers.keys()].join(', ')})`)
    const key = p.pool.resolve(idOrHint)
    p.pool.reset(key)
    const { observers } = this.#engine
    if (observers.active) observers.emit('keyReset', { provider, keyId: key.id, hint: key.hint, at: Date.now() })
  }

  /**
   * Subscribes to the bridge's events (requests ended, keys marked and reset, pools exhausted) for
   * metrics, logs or a status page; returns the function that unsubscribes. Costs nothing while nobody
   * listens, and a listener that throws is logged, never a request's problem.
   */
  observe(observer: BridgeObserver): () => void {
    checkObserver(observer)
    return this.#engine.observers.add(observer)
  }

  /**
   * Resolves once the key store has loaded the shared key state (a shared store such as Redis), so the
   * first request already skips keys other processes took out. Never rejects: a store that fails here
   * is logged and the bridge serves from local state.
   */
  async ready(): Promise<void> {
    try {
      await this.#store.ready?.()
    } catch (err) {
      this.#engine.logger.error({ err: describeError(err) }, 'aibridge: key store failed to get ready; serving from local state')
    }
  }

  /**
   * Closes upstream connections (after in-flight requests end) and the key store. Every call, the
   * first included, resolves once all of that is done.
   */
  close(): Promise<void> {
    this.#closed = true
    return (this.#closing ??= this.#shutdown())
  }

  async #shutdown(): Promise<void> {
    // A request in flight may still fail over to another key: the pools stay open until it ends.
    await this.#ledger.idle()
    await Promise.all(this.#own.map((d) => d.close()))
    // A store that fails to close (its connection already gone, say) must not fail the host's shutdown.
    try {
      await this.#store.close?.()
    } catch (err) {
      this.#engine.logger.error({ err: describeError(err) }, 'aibridge: key store failed to close')
    }
  }
}

/** Creates a bridge; options are validated here, with errors that name the option. */
export function createBridge(options: BridgeOptions): Bridge {
  return new Bridge(options)
}
