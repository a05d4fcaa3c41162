import { MemoryKeyStore, type KeyMark, type KeyStateStore } from '../../src/index.js'

export interface MarkSeen {
  provider: string
  keyId: string
  mark: KeyMark
  /** The cooldown the bridge asked for: `until - at`. */
  cooldownMs: number
}

/** The default store, with every mark the bridge sends kept for the test to read. */
export function recordingStore(): KeyStateStore & { marks: MarkSeen[] } {
  const inner = new MemoryKeyStore()
  const marks: MarkSeen[] = []
  return {
    marks,
    get: (provider, keyId) => inner.get(provider, keyId),
    mark(provider, keyId, mark) {
      marks.push({ provider, keyId, mark: { ...mark }, cooldownMs: mark.until - mark.at })
      inner.mark(provider, keyId, mark)
    },
    clear: (provider, keyId) => inner.clear(provider, keyId),
  }
}
