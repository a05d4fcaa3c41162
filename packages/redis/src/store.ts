import type { KeyMark, KeyStateStore, Logger } from '@aibridge/core'
import { Redis, type Cluster } from 'ioredis'
import { deadlineArg, decodeChange, decodeMark, encodeMark, parseVersion } from './codec.js'
import { Layout } from './layout.js'
import { LocalCopy, type Entry, type Unsynced } from './local-copy.js'
import { resolveStoreOptions, type RedisStoreOptions } from './options.js'
import { clearScript, loadScript, markScript, runScript } from './scripts.js'

type Client = Redis | Cluster

/** One write of this process's own: a mark, or a reset (only of marks seen at or before `before`, when given). */
type Write = { kind: 'mark'; mark: KeyMark } | { kind: 'clear'; at: number; before?: number }

/** How often a store whose Redis is down checks whether it is back. */
const PROBE_MS = 250

/** A Redis command that did not answer within `commandTimeoutMs`. */
export class RedisCommandTimeoutError extends Error {
  readonly code = 'AIBRIDGE_REDIS_TIMEOUT'
  constructor(ms: number) {
    super(`redis did not answer within ${ms} ms`)
    this.name = 'RedisCommandTimeoutError'
  }
}

/**
 * A key state store shared through Redis. The request path reads a local copy (`get` does no I/O);
 * `mark` and `clear` change the copy at once and go to Redis without the caller waiting, where a Lua
 * script applies the longest-wins rule atomically and announces the change on a channel that every
 * instance applies to its own copy. While Redis is down, slow or refusing, the copy goes on alone
 * (one warning per outage), and when Redis is back the instance writes what it did meanwhile and
 * loads everything else.
 */
export class RedisKeyStore implements KeyStateStore {
  readonly #client: Client
  readonly #sub: Client
  readonly #owned: boolean
  readonly #layout: Layout
  #logger: Logger | undefined
  readonly #commandTimeoutMs: number
  readonly #local = new LocalCopy()
  readonly #ready: Promise<void>
  readonly #inflight = new Set<Promise<unknown>>()
  // Providers added to the providers set since Redis was last (re)joined.
  readonly #registered = new Set<string>()
  /** Writes go to Redis (the last sync succeeded and nothing has failed since). */
  #up = false
  /** An outage was reported and has not ended. */
  #outage = false
  #syncing = false
  /** Counts outages: a sync during which Redis failed again must not declare it up. */
  #outages = 0
  #probe: NodeJS.Timeout | undefined
  #closed = false
  #closing: Promise<void> | undefined
  #becameUp: (() => void) | undefined

  constructor(options: RedisStoreOptions) {
    const o = resolveStoreOptions(options)
    this.#layout = new Layout(o.prefix)
    this.#logger = o.logger
    this.#commandTimeoutMs = o.commandTimeoutMs
    this.#owned = o.client === undefined
    // Our own connection: reconnect soon after an outage, and fail queued commands at once rather
    // than hold them while disconnected (the store has its own idea of when Redis is back).
    this.#client = o.client ?? new Redis(o.url!, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1000) })
    this.#sub = this.#client.isCluster ? (this.#client as Cluster).duplicate() : (this.#client as Redis).duplicate()
    // Errors reach the store as failed commands and closed connections; without a listener ioredis
    // would print each one. A host's own client keeps its own listeners, untouched.
    if (this.#owned) this.#client.on('error', () => {})
    this.#sub.on('error', () => {})
    this.#sub.on('close', () => this.#down(new Error('redis connection closed')))
    this.#sub.on('message', (channel: string, message: string) => {
      if (channel === this.#layout.channel) this.#onChange(message)
    })
    this.#ready = this.#start(o.readyTimeoutMs)
  }

  get(provider: string, keyId: string): KeyMark | undefined {
    return this.#local.get(provider, keyId)
  }

  mark(provider: string, keyId: string, mark: KeyMark): void {
    const e = this.#local.entry(provider, keyId)
    this.#local.mark(e, mark)
    this.#send(e, { kind: 'mark', mark })
  }

  clear(provider: string, keyId: string): void {
    const e = this.#local.entry(provider, keyId)
    this.#local.clear(e)
    this.#send(e, { kind: 'clear', at: Date.now() })
  }

  /** Resolves once the shared state is loaded, or after `readyTimeoutMs` with Redis still away (logged). */
  /** The bridge's logger, used unless `redisStore({ logger })` gave one: one warning per outage reaches the host's log either way. */
  useLogger(logger: Logger): void {
    this.#logger ??= logger
  }

  ready(): Promise<void> {
    return this.#ready
  }

  /** Waits (briefly) for writes in flight, then closes the store's own connections; never a host's client. */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown())
  }

  // ---- Writes ---------------------------------------------------------------------------------

  #send(e: Entry, w: Write): void {
    if (this.#closed || !this.#up) {
      this.#local.unsent(e, unsynced(w))
      return
    }
    this.#write(e, w, this.#commandTimeoutMs).catch((err: unknown) => this.#down(err))
  }

  /** One write to Redis; its answer updates the local copy. Rejects (the write kept for later) when it fails. */
  #write(e: Entry, w: Write, ms: number): Promise<void> {
    const { provider, keyId } = e
    const l = this.#layout
    const keys = [l.entry(provider, keyId), l.index(provider), l.version(provider)]
    let run: Promise<unknown>
    if (w.kind === 'mark') {
      const { mark } = w
      const args = [keyId, mark.state, deadlineArg(mark.until), encodeMark(mark), String(Date.now()), l.channel, provider, String(mark.at)]
      run = Promise.all([this.#register(provider, ms), runScript(this.#client, markScript, keys, args)]).then(([, reply]) => reply)
    } else {
      run = runScript(this.#client, clearScript, keys, [keyId, l.channel, provider, w.before === undefined ? '' : String(w.before)])
    }
    e.pending++
    const done = this.#timed(run, ms).then(
      (reply) => {
        const [version, mark] = reply as [string | number, string | null | undefined]
        this.#local.answered(e, parseVersion(version) ?? 0, decodeMark(mark))
      },
      (err: unknown) => {
        e.pending--
        this.#local.unsent(e, unsynced(w))
        throw err
      },
    )
    this.#inflight.add(done)
    void done.then(
      () => this.#inflight.delete(done),
      () => this.#inflight.delete(done),
    )
    return done
  }

  /** Lists the provider in the providers set (once per connection), so an instance that loads finds it. */
  async #register(provider: string, ms: number): Promise<void> {
    if (this.#registered.has(provider)) return
    this.#registered.add(provider)
    try {
      await this.#timed(this.#client.call('SADD', this.#layout.providers, provider), ms)
    } catch (err) {
      this.#registered.delete(provider)
      throw err
    }
  }

  /** Writes a key's unconfirmed state: a reset made meanwhile, then its current mark. */
  async #push(e: Entry, ms: number): Promise<void> {
    const u = e.unsynced
    if (!u) return
    e.unsynced = undefined
    try {
      if (u.clearedAt !== undefined) await this.#write(e, { kind: 'clear', at: u.clearedAt, before: u.clearedAt }, ms)
      if (u.marked && e.view && e.view.until > Date.now()) await this.#write(e, { kind: 'mark', mark: e.view }, ms)
    } catch (err) {
      this.#local.unsent(e, u)
      throw err
    }
  }

  #onChange(message: string): void {
    const change = decodeChange(message)
    if (change) this.#local.apply(this.#local.entry(change.provider, change.keyId), change.version, change.mark)
  }

  // ---- Joining Redis: start, outage, resync ---------------------------------------------------

  async #start(readyTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + readyTimeoutMs
    const up = new Promise<void>((resolve) => (this.#becameUp = resolve))
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), readyTimeoutMs)))
    this.#resync(deadline).catch((err: unknown) => this.#down(err))
    const first = await Promise.race([up, late])
    clearTimeout(timer)
    if (first === 'late' && !this.#up) this.#down(new RedisCommandTimeoutError(readyTimeoutMs))
  }

  /**
   * Brings this instance and Redis into agreement: subscribes (so nothing announced from here on is
   * missed), then per provider takes a snapshot, writes this instance's unconfirmed changes, and
   * applies the snapshot under them. Each command has `ms()` to answer.
   */
  async #resync(deadline?: number): Promise<void> {
    if (this.#syncing || this.#closed) return
    this.#syncing = true
    const outages = this.#outages
    try {
      const ms = (): number => (deadline === undefined ? this.#commandTimeoutMs : Math.max(1, deadline - Date.now()))
      await this.#timed(this.#sub.subscribe(this.#layout.channel), ms())
      const listed = (await this.#timed(this.#client.call('SMEMBERS', this.#layout.providers), ms())) as string[]
      for (const provider of new Set([...listed, ...this.#local.providers()])) await this.#resyncProvider(provider, ms)
    } finally {
      this.#syncing = false
    }
    if (this.#closed || outages !== this.#outages) return
    this.#up = true
    this.#becameUp?.()
    if (this.#outage) {
      this.#outage = false
      this.#log('info', {}, 'aibridge: redis is back; key state resynced')
    }
    // Changes made while the sync ran.
    for (const e of this.#local.entries()) if (e.unsynced) this.#push(e, this.#commandTimeoutMs).catch((err: unknown) => this.#down(err))
  }

  async #resyncProvider(provider: string, ms: () => number): Promise<void> {
    const l = this.#layout
    const ids = (await this.#timed(this.#client.call('SMEMBERS', l.index(provider)), ms())) as string[]
    const keys = [l.index(provider), l.version(provider), ...ids.map((id) => l.entry(provider, id))]
    const reply = (await this.#timed(runScript(this.#client, loadScript, keys, ids), ms())) as unknown[]
    const [held, snapshotAt, members, ...rest] = reply as [string, string, string[], ...unknown[]]
    const snapshot = parseVersion(snapshotAt) ?? 0
    const now = Date.now()
    // Redis has no state for this provider at all: a restart without persistence lost it. The marks
    // this instance holds are the best there is; they go back (longest-wins keeps any newer one).
    if (held !== '1') for (const e of this.#local.entries(provider)) if (e.view && e.view.until > now) this.#local.unsent(e, { marked: true })
    await this.#register(provider, ms())
    for (const e of this.#local.entries(provider)) await this.#push(e, ms())

    const loaded = new Set<string>()
    for (let i = 0; i + 2 < rest.length; i += 3) {
      const id = String(rest[i])
      loaded.add(id)
      this.#local.apply(this.#local.entry(provider, id), parseVersion(rest[i + 1]) ?? 0, decodeMark(rest[i + 2]))
    }
    // A key not in the index at the snapshot had no mark then; one listed and missing had expired.
    // (One added to the index after the SMEMBERS is announced on the channel.)
    const indexed = new Set(members.map(String))
    const checked = new Set(ids)
    for (const e of this.#local.entries(provider)) {
      if (!loaded.has(e.keyId) && (!indexed.has(e.keyId) || checked.has(e.keyId))) this.#local.apply(e, snapshot, undefined)
    }
  }

  /** Redis failed, timed out or dropped the subscription: serve locally, say so once, and look for its return. */
  #down(err: unknown): void {
    if (this.#closed) return
    this.#up = false
    this.#outages++
    this.#registered.clear()
    if (!this.#outage) {
      this.#outage = true
      this.#log('warn', { err: describe(err) }, 'aibridge: redis unavailable; key state is shared again when it returns')
    }
    this.#scheduleProbe()
  }

  #scheduleProbe(): void {
    if (this.#probe || this.#closed) return
    this.#probe = setTimeout(() => {
      this.#probe = undefined
      void this.#recover()
    }, PROBE_MS)
    this.#probe.unref()
  }

  async #recover(): Promise<void> {
    if (this.#closed || this.#up) return
    if (this.#syncing || this.#client.status !== 'ready' || this.#sub.status !== 'ready') return this.#scheduleProbe()
    try {
      await this.#timed(this.#client.call('PING'), this.#commandTimeoutMs)
      await this.#resync()
    } catch {
      this.#scheduleProbe()
    }
  }

  // ---- Plumbing -------------------------------------------------------------------------------

  /** Settles as `promise` does, or rejects with RedisCommandTimeoutError after `ms` (the command itself goes on). */
  #timed<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RedisCommandTimeoutError(ms)), ms)
      promise.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (err: unknown) => {
          clearTimeout(timer)
          reject(err)
        },
      )
    })
  }

  #log(level: 'info' | 'warn', obj: object, msg: string): void {
    try {
      this.#logger?.[level](obj, msg)
    } catch {
      // A logger that throws costs its line, never a request.
    }
  }

  async #shutdown(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#probe)
    this.#becameUp?.()
    await Promise.allSettled([...this.#inflight])
    await this.#quit(this.#sub)
    if (this.#owned) await this.#quit(this.#client)
  }

  async #quit(c: Client): Promise<void> {
    try {
      await this.#timed(c.quit(), this.#commandTimeoutMs)
    } catch {
      c.disconnect()
    }
  }
}

function unsynced(w: Write): Unsynced {
  return w.kind === 'mark' ? { marked: true } : { clearedAt: w.before ?? w.at, marked: false }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/**
 * A key state store shared through Redis, for `createBridge({ store })`:
 * `redisStore({ url: 'redis://127.0.0.1:6379', prefix: 'myapp:aibridge:' })`, or
 * `redisStore({ client })` with an ioredis client or Cluster the host already has.
 */
export function redisStore(options: RedisStoreOptions): RedisKeyStore {
  return new RedisKeyStore(options)
}
