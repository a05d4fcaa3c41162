import { AibridgeKeyNotFoundError } from './errors.js'
import type { KeyFailure, KeyMark, KeyStateStore } from './key-store.js'
import { fingerprint, maskKey } from './mask.js'

export type KeyOrder = 'ordered' | 'round-robin'

/** Where a key with a base URL of its own sends its requests (an Azure resource in its region). */
export interface KeyEndpoint {
  readonly origin: string
  /** Base path without a trailing slash ('' for none). */
  readonly basePath: string
}

/** A configured key as the options give it: a plain key, or one with its own endpoint and headers. */
export interface KeySpec {
  readonly secret: string
  /** Absent when the key uses the provider's base URL. */
  readonly endpoint?: KeyEndpoint
  /** Extra request headers for this key's attempts (names lowercased); absent when none. */
  readonly headers?: Readonly<Record<string, string>>
}

/** One configured key. `secret` never leaves the pool except into the upstream request. */
export interface PoolKey extends KeySpec {
  readonly id: string
  readonly hint: string
}

/** A key's state as `bridge.keyStates()` reports it. */
export interface KeyState {
  id: string
  hint: string
  state: 'valid' | 'temporary' | 'permanent'
  reason?: KeyFailure
  /** Epoch ms when the key becomes usable again (absent for valid keys and permanent keys with no recheck). */
  until?: number
  /** The HTTP status that took the key out. */
  status?: number
  /** The origin of a key with a base URL of its own (`https://eastus.example.openai.azure.com`); absent for keys that use the provider's. */
  origin?: string
}

export interface CooldownOptions {
  /** Cooldown for a 429 whose headers name no wait. */
  rateLimitMs: number
  /** Cooldown for exhausted billing or quota. */
  quotaMs: number
  /** How long a key that failed authentication stays out; `Infinity` means until `resetKey` or a restart. */
  authRecheckMs: number
  /** The longest temporary cooldown, whatever a provider's headers say. */
  maxMs: number
}

/** How a request ended up with no key, for the exhaustion error. */
export interface Exhaustion {
  /** Whole seconds until the first cooling key is usable again, when any key is only cooling. */
  retryAfterSeconds?: number
  rateLimited: number
  quota: number
  auth: number
  total: number
}

function poolKey(spec: KeySpec): PoolKey {
  return { ...spec, id: fingerprint(spec.secret), hint: maskKey(spec.secret) }
}

function sameRoute(a: KeySpec, b: KeySpec): boolean {
  return JSON.stringify([a.endpoint ?? null, a.headers ?? null]) === JSON.stringify([b.endpoint ?? null, b.headers ?? null])
}

/**
 * A provider's keys and their state. State is derived from deadlines held in the store, so a
 * cooldown ends by itself without a timer; every request walks the keys with its own `KeyWalk`.
 */
export class KeyPool {
  #keys: readonly PoolKey[]
  #next = 0

  constructor(
    readonly provider: string,
    specs: readonly KeySpec[],
    readonly order: KeyOrder,
    readonly cooldown: CooldownOptions,
    readonly store: KeyStateStore,
    readonly onStoreError: (op: 'get' | 'mark' | 'clear', err: unknown) => void = () => {},
  ) {
    this.#keys = specs.map(poolKey)
  }

  /** The keys in order, primary first. Replaced whole by `replace`, never changed in place: a walk keeps the list it started with. */
  get keys(): readonly PoolKey[] {
    return this.#keys
  }

  /**
   * Makes `specs` the pool. A key that stays (same key, same endpoint and headers) keeps its state, which lives in the store under its id
   * (a fingerprint, so the same in every process); a new key starts valid, unless the store already
   * holds a mark for it. A removed key's mark is left in the store: other processes may still use it.
   */
  replace(specs: readonly KeySpec[]): { added: PoolKey[]; removed: PoolKey[] } {
    const old = new Map(this.#keys.map((k) => [k.secret, k]))
    // A key that moved to another endpoint (or changed its headers) is rebuilt; its state stays (same id).
    const same = (k: PoolKey | undefined, spec: KeySpec): k is PoolKey => k !== undefined && sameRoute(k, spec)
    const keys = specs.map((spec) => {
      const was = old.get(spec.secret)
      return same(was, spec) ? was : poolKey(spec)
    })
    const kept = new Set(keys)
    const removed = this.#keys.filter((k) => !kept.has(k))
    const added = keys.filter((k) => !old.has(k.secret))
    this.#keys = keys
    return { added, removed }
  }

  // A custom (shared, networked) store may throw or return a rejected promise although its methods
  // are synchronous by contract: a store outage must cost key state, never a request or the process.
  #safely<T>(op: 'get' | 'mark' | 'clear', run: () => T): T | undefined {
    try {
      const result = run()
      if (result && typeof (result as unknown as Promise<unknown>).then === 'function') {
        ;(result as unknown as Promise<unknown>).then(undefined, (err: unknown) => this.onStoreError(op, err))
        return undefined
      }
      return result
    } catch (err) {
      this.onStoreError(op, err)
      return undefined
    }
  }

  #activeMark(key: PoolKey, now: number): KeyMark | undefined {
    const mark = this.#safely('get', () => this.store.get(this.provider, key.id))
    return mark && mark.until > now ? mark : undefined
  }

  isUsable(key: PoolKey, now = Date.now()): boolean {
    return this.#activeMark(key, now) === undefined
  }

  /** A request's own pass over the pool (see KeyWalk). */
  walk(): KeyWalk {
    const keys = this.#keys
    const n = keys.length
    const start = this.order === 'round-robin' && n > 0 ? this.#next++ % n : 0
    if (this.#next >= Number.MAX_SAFE_INTEGER) this.#next = 0
    return new KeyWalk(this, keys, start)
  }

  /**
   * Takes a key out after a key-specific failure; `cooldownMs` applies to temporary failures.
   * Returns the key's mark as it now stands (a longer one from another request wins).
   */
  markFailed(key: PoolKey, reason: KeyFailure, status: number, cooldownMs?: number): KeyMark {
    const now = Date.now()
    const permanent = reason === 'auth_failed'
    const ms = permanent
      ? this.cooldown.authRecheckMs
      : Math.min(this.cooldown.maxMs, cooldownMs ?? (reason === 'quota_exhausted' ? this.cooldown.quotaMs : this.cooldown.rateLimitMs))
    const mark: KeyMark = {
      state: permanent ? 'permanent' : 'temporary',
      reason,
      until: now + Math.max(0, ms),
      at: now,
      status,
    }
    this.#safely('mark', () => this.store.mark(this.provider, key.id, mark))
    // What the key's state is now: the store keeps the stronger of this mark and one already there.
    return this.#activeMark(key, now) ?? mark
  }

  find(idOrHint: string): PoolKey[] {
    const byId = this.keys.filter((k) => k.id === idOrHint)
    return byId.length > 0 ? byId : this.keys.filter((k) => k.hint === idOrHint)
  }

  /** The one key with this id or hint; throws AibridgeKeyNotFoundError for none or several. */
  resolve(idOrHint: string): PoolKey {
    const found = this.find(idOrHint)
    if (found.length === 0) {
      // A key passed here by mistake must not end up in an error message (and so in a log): only
      // echo a value shaped like an id or a hint.
      const shown = /^k_[0-9a-f]{16}$/.test(idOrHint) || (idOrHint.length <= 11 && idOrHint.includes('...')) ? `'${idOrHint}'` : '(value not shown)'
      throw new AibridgeKeyNotFoundError(`no key of '${this.provider}' has id or hint ${shown}`)
    }
    if (found.length > 1) {
      throw new AibridgeKeyNotFoundError(`hint '${idOrHint}' matches ${found.length} keys of '${this.provider}'; use an id (${found.map((k) => k.id).join(', ')})`)
    }
    return found[0]!
  }

  reset(key: PoolKey): void {
    this.#safely('clear', () => this.store.clear(this.provider, key.id))
  }

  states(now = Date.now()): KeyState[] {
    return this.keys.map((key) => {
      const mark = this.#activeMark(key, now)
      const s: KeyState = mark ? { id: key.id, hint: key.hint, state: mark.state, reason: mark.reason } : { id: key.id, hint: key.hint, state: 'valid' }
      if (mark && Number.isFinite(mark.until)) s.until = mark.until
      if (mark?.status !== undefined) s.status = mark.status
      if (key.endpoint) s.origin = key.endpoint.origin
      return s
    })
  }

  /**
   * Why no key is usable right now, and when the first one comes back. `own` holds the failures a
   * request saw itself: they count even when their mark has already run out (a 429 with
   * `Retry-After: 0`) or was cleared meanwhile, so the answer says what the request met.
   */
  exhaustion(own?: ReadonlyMap<PoolKey, KeyMark>, now = Date.now(), keys = this.#keys): Exhaustion {
    const e: Exhaustion = { rateLimited: 0, quota: 0, auth: 0, total: keys.length }
    let soonest = Infinity
    for (const key of keys) {
      const active = this.#activeMark(key, now)
      const seen = own?.get(key)
      // The longer of the two: another request may have marked the key for longer since.
      const mark = active && (!seen || active.until >= seen.until) ? active : seen
      if (!mark) continue
      if (mark.reason === 'auth_failed') e.auth++
      else if (mark.reason === 'quota_exhausted') e.quota++
      else e.rateLimited++
      if (mark.state === 'temporary') soonest = Math.min(soonest, mark.until - now)
    }
    if (Number.isFinite(soonest)) e.retryAfterSeconds = Math.max(1, Math.ceil(soonest / 1000))
    return e
  }
}

/**
 * A request's own pass over the pool: each `next()` is the first key, in the pool's order from the
 * walk's start, that this request has not tried and that is usable now, so a key whose cooldown ends
 * while the request is failing over is still tried. Each key at most once per request. A walk keeps
 * the keys the pool had when it started: a request in flight when the keys are replaced finishes on them.
 */
export class KeyWalk {
  readonly #pool: KeyPool
  readonly #keys: readonly PoolKey[]
  readonly #start: number
  readonly #tried: boolean[]
  #failures: Map<PoolKey, KeyMark> | undefined

  constructor(pool: KeyPool, keys: readonly PoolKey[], start: number) {
    this.#pool = pool
    this.#keys = keys
    this.#start = start
    this.#tried = new Array<boolean>(keys.length).fill(false)
  }

  next(): PoolKey | undefined {
    const keys = this.#keys
    const n = keys.length
    const now = Date.now()
    for (let offset = 0; offset < n; offset++) {
      const i = (this.#start + offset) % n
      if (this.#tried[i]) continue
      const key = keys[i]!
      if (this.#pool.isUsable(key, now)) {
        this.#tried[i] = true
        return key
      }
    }
    return undefined
  }

  /** Takes the key out (see KeyPool.markFailed) and remembers the failure for `exhaustion()`. */
  failed(key: PoolKey, reason: KeyFailure, status: number, cooldownMs?: number): KeyMark {
    const mark = this.#pool.markFailed(key, reason, status, cooldownMs)
    ;(this.#failures ??= new Map()).set(key, mark)
    return mark
  }

  /** Why this request found no key: its own failures and the others' current marks. */
  exhaustion(): Exhaustion {
    return this.#pool.exhaustion(this.#failures, Date.now(), this.#keys)
  }
}
