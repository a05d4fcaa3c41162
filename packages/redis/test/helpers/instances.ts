/** Host app instances as child processes (fixtures/instance.mjs), each with its own bridge and redisStore. */
import { fork, type ChildProcess } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { KeyState } from '@aibridge/core'
import { within } from '../../../../test/support/wait.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const packages = join(here, '../../..')

/** The children run the built packages: a stale build would test old code, so say so instead. */
export function assertBuilt(): void {
  for (const name of ['core', 'redis']) {
    const dist = join(packages, name, 'dist/index.js')
    let built: number
    try {
      built = statSync(dist).mtimeMs
    } catch {
      throw new Error(`packages/${name} is not built: run \`pnpm build\` (the child processes run dist/)`)
    }
    const src = join(packages, name, 'src')
    const newest = Math.max(...readdirSync(src, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(src, f)).mtimeMs))
    if (newest > built) throw new Error(`packages/${name}/dist is older than its sources: run \`pnpm build\` (the child processes run dist/)`)
  }
}

export interface LogLine {
  level: string
  msg: string
  obj: Record<string, unknown>
}

export interface Instance {
  name: string
  url: string
  child: ChildProcess
  logs: LogLine[]
  /** What the instance's `bridge.keyStates().openai` said right after `bridge.ready()`. */
  initialStates: KeyState[]
  states(): Promise<KeyState[]>
  state(keyId: string): Promise<KeyState>
  reset(key: string): Promise<void>
  /**
   * Has the child poll the key every ms; resolves once it polls, with `seen`: the epoch ms at which
   * the key first had `state` (null after `timeoutMs`).
   */
  watch(keyId: string, state: KeyState['state'], timeoutMs?: number): Promise<{ seen: Promise<number | null> }>
  /** POSTs a chat completion (with `x-instance: name`); resolves with the status. */
  request(): Promise<number>
  warnings(): LogLine[]
  /** Closes the bridge; resolves with the exit code once the process ended by itself. */
  close(): Promise<number | null>
  kill(): void
}

export interface InstanceOptions {
  name: string
  upstream: string
  redisUrl: string
  prefix: string
  keys: string[]
  /** How the store gets Redis: `{ url }`, or `{ client }` with an ioredis 6 or 5 client. */
  store: 'url' | 'client' | 'client5'
}

export async function startInstance(o: InstanceOptions): Promise<Instance> {
  const child = fork(join(here, '../fixtures/instance.mjs'), [], {
    env: { ...process.env, UPSTREAM: o.upstream, REDIS_URL: o.redisUrl, PREFIX: o.prefix, KEYS: o.keys.join(','), STORE: o.store },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const logs: LogLine[] = []
  const replies = new Map<number, (m: { value?: unknown; error?: string }) => void>()
  let nextId = 0
  let started!: (m: { url: string; states: KeyState[] }) => void
  const ready = new Promise<{ url: string; states: KeyState[] }>((resolve) => (started = resolve))
  const watches = new Map<number, (at: number | null) => void>()
  type Message = { type: string; id: number; url: string; states: KeyState[]; level: string; msg: string; obj: Record<string, unknown>; value?: unknown; error?: string; watchId: number; at: number | null }
  child.on('message', (m: Message) => {
    if (m.type === 'ready') started(m)
    else if (m.type === 'seen') watches.get(m.watchId)?.(m.at)
    else if (m.type === 'log') logs.push({ level: m.level, msg: m.msg, obj: m.obj })
    else if (m.type === 'reply') replies.get(m.id)?.(m)
  })
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const ask = async <T>(cmd: string, args: object = {}, timeoutMs = 15_000): Promise<T> => {
    const id = nextId++
    const reply = new Promise<{ value?: unknown; error?: string }>((resolve) => replies.set(id, resolve))
    child.send({ id, cmd, ...args })
    const m = await within(reply, timeoutMs, `${o.name}: answer to ${cmd}`)
    replies.delete(id)
    if (m.error) throw new Error(`${o.name}: ${cmd}: ${m.error}`)
    return m.value as T
  }
  const { url, states } = await within(Promise.race([ready, exit.then((code) => Promise.reject(new Error(`${o.name} exited with ${code} before it was ready`)))]), 20_000, `${o.name} ready`)
  return {
    name: o.name,
    url,
    child,
    logs,
    initialStates: states,
    states: () => ask<KeyState[]>('states'),
    async state(keyId) {
      const s = (await ask<KeyState[]>('states')).find((k) => k.id === keyId)
      if (!s) throw new Error(`${o.name} has no key ${keyId}`)
      return s
    },
    reset: (key) => ask<void>('reset', { key }),
    async watch(keyId, state, timeoutMs = 10_000) {
      const watchId = nextId++
      const seen = new Promise<number | null>((resolve) => watches.set(watchId, resolve))
      await ask('watch', { keyId, state, timeoutMs, watchId })
      return { seen: within(seen, timeoutMs + 5000, `${o.name}: watch of ${keyId}`) }
    },
    async request() {
      const res = await fetch(`${url}/openai/v1/chat/completions`, {
        method: 'POST',
        // Passed upstream untouched, so the mock can answer each instance its own way.
        headers: { 'content-type': 'application/json', 'x-instance': o.name },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      })
      await res.arrayBuffer()
      return res.status
    },
    warnings: () => logs.filter((l) => l.level === 'warn' && l.msg.includes('redis')),
    async close() {
      await ask('close').catch(() => {})
      return within(exit, 10_000, `${o.name} to exit by itself after close`)
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}

export interface Traffic {
  /** Statuses of finished requests, and errors as strings. */
  results: Array<number | string>
  failed(): Array<number | string>
  stop(): Promise<void>
}

/** Keeps one request at a time in flight to each instance until stopped. */
export function traffic(instances: Instance[]): Traffic {
  const results: Array<number | string> = []
  let running = true
  const loops = instances.map(async (i) => {
    while (running) {
      results.push(await i.request().catch((err: unknown) => String(err)))
      await new Promise((r) => setTimeout(r, 5))
    }
  })
  return {
    results,
    failed: () => results.filter((r) => r !== 200),
    async stop() {
      running = false
      await Promise.all(loops)
    },
  }
}
