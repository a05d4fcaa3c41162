import { mergeMarks, type KeyMark } from '@aibridge/core'

/** What this process has done to a key that Redis has not confirmed (an outage, or a write that failed). */
export interface Unsynced {
  /** A reset was made at this time (epoch ms): marks seen before it go. */
  clearedAt?: number
  /** A mark was made: the key's current mark goes out. */
  marked: boolean
}

/** One key's state in this process. */
export interface Entry {
  readonly provider: string
  readonly keyId: string
  /** What `get` answers: the confirmed mark, or this process's own writes until Redis answers them. */
  view: KeyMark | undefined
  /** The mark as Redis last announced or answered it, at `version`. */
  confirmed: KeyMark | undefined
  version: number
  /** Own writes sent and not answered yet. */
  pending: number
  unsynced: Unsynced | undefined
}

/**
 * The copy of the shared key state that the request path reads, without I/O. Changes from Redis
 * (announcements, answers to writes, loads) carry a version and apply only when newer than the one
 * held, whatever order they arrive in over two connections. While a process's own writes to a key
 * are in flight, its view keeps them (and takes any stronger mark at once); the confirmed state
 * takes over when the last answer arrives.
 */
export class LocalCopy {
  readonly #entries = new Map<string, Entry>()

  get(provider: string, keyId: string): KeyMark | undefined {
    return this.#entries.get(`${provider}\u0000${keyId}`)?.view
  }

  entry(provider: string, keyId: string): Entry {
    const k = `${provider}\u0000${keyId}`
    let e = this.#entries.get(k)
    if (!e) {
      e = { provider, keyId, view: undefined, confirmed: undefined, version: 0, pending: 0, unsynced: undefined }
      this.#entries.set(k, e)
    }
    return e
  }

  /** This process's own mark, in force locally at once. */
  mark(e: Entry, mark: KeyMark): void {
    e.view = mergeMarks(e.view, mark, Date.now())
  }

  clear(e: Entry): void {
    e.view = undefined
  }

  /** A change known to Redis at `version`: an announcement, an answer to a write, or a load. */
  apply(e: Entry, version: number, mark: KeyMark | undefined): void {
    if (version <= e.version) return
    e.version = version
    e.confirmed = mark
    if (e.pending === 0 && !e.unsynced) e.view = mark
    else if (mark) e.view = mergeMarks(e.view, mark, Date.now())
  }

  /** Redis answered one of this process's writes. */
  answered(e: Entry, version: number, mark: KeyMark | undefined): void {
    e.pending--
    this.apply(e, version, mark)
    if (e.pending === 0 && !e.unsynced) e.view = e.confirmed
  }

  /** A write did not reach Redis: the key's own state goes out when Redis is back. */
  unsent(e: Entry, change: Unsynced): void {
    const u = (e.unsynced ??= { marked: false })
    if (change.clearedAt !== undefined) {
      u.clearedAt = Math.max(u.clearedAt ?? 0, change.clearedAt)
      u.marked = false
    }
    if (change.marked) u.marked = true
  }

  providers(): Set<string> {
    return new Set([...this.#entries.values()].map((e) => e.provider))
  }

  /** The provider's keys, or every key. */
  entries(provider?: string): Entry[] {
    const all = [...this.#entries.values()]
    return provider === undefined ? all : all.filter((e) => e.provider === provider)
  }
}
