/**
 * Where the store's state lives in Redis. Every name of one provider carries the hash tag
 * `{provider}`, so on Redis Cluster a provider's entries, index and version counter share one slot
 * and a script may touch them together. Only key fingerprints (`keyId`) appear, never keys.
 */
export class Layout {
  /** The pub/sub channel on which every change is announced. */
  readonly channel: string
  /** The set of providers that have (or had) marks: what a loading instance walks. */
  readonly providers: string

  constructor(readonly prefix: string) {
    this.channel = `${prefix}events`
    this.providers = `${prefix}providers`
  }

  /** A key's mark: a hash that expires at the mark's deadline. */
  entry(provider: string, keyId: string): string {
    return `${this.#tag(provider)}:mark:${keyId}`
  }

  /** The ids of the provider's keys that have an entry (a superset: an expired entry leaves its id until the next load). */
  index(provider: string): string {
    return `${this.#tag(provider)}:marks`
  }

  /** The last version given to a change of the provider's marks. */
  version(provider: string): string {
    return `${this.#tag(provider)}:version`
  }

  #tag(provider: string): string {
    return `${this.prefix}{${provider}}`
  }
}
