import type { KeyMark } from '@aibridge/core'
import { redisStore, type RedisKeyStore, type RedisStoreOptions } from '../../src/index.js'
import { until } from '../../../../test/support/wait.js'

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: object
  msg: string | undefined
}

/** A pino-compatible logger that keeps its lines. */
export function collectingLogger(): { logger: RedisStoreOptions['logger'] & object; lines: LogLine[]; count(level: LogLine['level']): number } {
  const lines: LogLine[] = []
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => void lines.push({ level, obj, msg })
  return {
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    lines,
    count: (level) => lines.filter((l) => l.level === level).length,
  }
}

/** Stores the test closes at its end. */
export function storeTracker(): { open(options: RedisStoreOptions): RedisKeyStore; closeAll(): Promise<void> } {
  const open: RedisKeyStore[] = []
  return {
    open(options) {
      const s = redisStore(options)
      open.push(s)
      return s
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((s) => s.close()))
    },
  }
}

export function temporary(ms: number, reason: KeyMark['reason'] = 'rate_limited', status = 429): KeyMark {
  const at = Date.now()
  return { state: 'temporary', reason, until: at + ms, at, status }
}

export function permanent(ms = Infinity): KeyMark {
  const at = Date.now()
  return { state: 'permanent', reason: 'auth_failed', until: at + ms, at, status: 401 }
}

/** Waits until `store` holds a mark for the key that satisfies `check` (or none, for `undefined`). */
export async function untilMark(store: RedisKeyStore, provider: string, keyId: string, check: ((m: KeyMark) => boolean) | undefined, timeoutMs = 5000): Promise<void> {
  await until(
    () => {
      const m = store.get(provider, keyId)
      const live = m && m.until > Date.now() ? m : undefined
      return check === undefined ? live === undefined : live !== undefined && check(live)
    },
    timeoutMs,
    () => `mark of ${provider}/${keyId}: now ${JSON.stringify(store.get(provider, keyId))}`,
  )
}

/** Polls an async condition until it holds. */
export async function eventually(cond: () => Promise<boolean> | boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
