import type { Logger } from './logger.js'

/**
 * Where key state lives. The request path reads it synchronously and never waits on a network:
 * a shared implementation (Redis, a later package) keeps a local copy that it updates from the
 * shared one in the background, and sends marks out without the caller awaiting them.
 */

/** Why a key is out of service. */
export type KeyFailure = 'rate_limited' | 'quota_exhausted' | 'auth_failed'

/** A key's failure record. Valid keys have none (or one whose deadline has passed). */
export interface KeyMark {
  state: 'temporary' | 'permanent'
  reason: KeyFailure
  /**
   * Epoch ms after which the key is usable again; `Infinity` for a permanent key with no recheck.
   * `JSON.stringify` turns Infinity into null: a store that serializes marks must keep it (say, as a
   * string) or a failed key would come straight back.
   */
  until: number
  /** Epoch ms when the failure was seen. */
  at: number
  /** The HTTP status that caused it. */
  status?: number
}

export interface KeyStateStore {
  /** The last known mark of a key, read without I/O. */
  get(provider: string, keyId: string): KeyMark | undefined
  /**
   * Records a failure. Implementations keep the stronger mark when two overlap (see `mergeMarks`),
   * so concurrent requests never shorten a cooldown.
   */
  mark(provider: string, keyId: string, mark: KeyMark): void
  /** Forgets a key's mark: it is valid again. */
  clear(provider: string, keyId: string): void
  /**
   * Resolves once the store has loaded the shared state (`bridge.ready()` awaits it). It never rejects
   * because the shared side is down: after a bounded wait it resolves and the store serves local state.
   */
  ready?(): Promise<void>
  /**
   * The bridge's logger, handed over when the bridge is created, for a store that reports its own
   * trouble (a shared store's outage): a store given a logger of its own keeps that one.
   */
  useLogger?(logger: Logger): void
  /** Releases connections; the bridge calls it from `close()`. */
  close?(): Promise<void> | void
}

/**
 * Which of two marks wins: an expired mark loses to anything; permanent beats temporary; between
 * two of the same state the later deadline wins. Exported so shared stores apply the same rule.
 */
export function mergeMarks(prev: KeyMark | undefined, next: KeyMark, now: number): KeyMark {
  if (!prev || prev.until <= now) return next
  if (prev.state !== next.state) return prev.state === 'permanent' ? prev : next
  return next.until > prev.until ? next : prev
}

/** The default store: state in this process only. */
export class MemoryKeyStore implements KeyStateStore {
  readonly #marks = new Map<string, KeyMark>()

  get(provider: string, keyId: string): KeyMark | undefined {
    return this.#marks.get(`${provider}\u0000${keyId}`)
  }

  mark(provider: string, keyId: string, mark: KeyMark): void {
    const k = `${provider}\u0000${keyId}`
    this.#marks.set(k, mergeMarks(this.#marks.get(k), mark, Date.now()))
  }

  clear(provider: string, keyId: string): void {
    this.#marks.delete(`${provider}\u0000${keyId}`)
  }
}
