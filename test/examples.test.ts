// The examples and the demo, as a user runs them: no provider keys in the environment, so each
// example starts the simulator; the demo runs as its own process (`node examples/demo/demo.mjs`).
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, request, type IncomingMessage } from 'node:http'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { connect } from 'node:net'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { nextPacificMidnight } from '../packages/core/src/providers/pacific-time.js'
import { anthropicClient, openaiClient } from './support/clients.js'
import { raw } from './support/http.js'
import { redisAvailable, REDIS_URL } from './support/redis.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const KEY_VARS = ['ANTHROPIC_API_KEYS', 'OPENAI_API_KEYS'] as const

interface LoggedRecord {
  provider: string
  status: number | null
  outcome: string
  credentialHint: string | null
}

interface StartedExample {
  url: string
  simulator: { url: string } | null
  close(): Promise<void>
}

type Start = (options: { port: number; onRecord?: (r: LoggedRecord) => void }) => Promise<StartedExample>

// A computed specifier: the examples are plain .mjs without type declarations.
async function load<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(`${root}/${file}`).href)) as T
}

/** The environment of a child process: this one's, minus any provider key. */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra }
  for (const name of KEY_VARS) delete env[name]
  return env
}

function run(args: string[], env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')))
  child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')))
  return Object.assign(child, { output: () => output })
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

async function waitForOutput(child: ReturnType<typeof run>, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const m = child.output().match(pattern)
    if (m) return m
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${pattern} in output:\n${child.output()}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const saved: Partial<Record<(typeof KEY_VARS)[number], string>> = {}
beforeAll(() => {
  for (const name of KEY_VARS) {
    saved[name] = process.env[name]
    delete process.env[name]
  }
})
afterAll(() => {
  for (const name of KEY_VARS) if (saved[name] !== undefined) process.env[name] = saved[name]
})

describe.each(['express', 'koa', 'fastify'])('examples/%s', (name) => {
  it('starts the simulator without keys and serves both SDKs through /ai', async () => {
    const { start } = await load<{ start: Start }>(`examples/${name}/server.mjs`)
    const records: LoggedRecord[] = []
    const app = await start({ port: 0, onRecord: (r) => records.push(r) })
    try {
      expect(app.simulator).not.toBeNull()

      const message = await anthropicClient(`${app.url}/ai/anthropic`).messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hello anthropic' }],
      })
      expect(message.content[0]).toMatchObject({ type: 'text', text: 'Simulated reply to: hello anthropic' })

      const stream = await openaiClient(`${app.url}/ai/openai/v1`).chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'hello openai' }],
      })
      let text = ''
      let chunks = 0
      for await (const chunk of stream) {
        chunks++
        text += chunk.choices[0]?.delta?.content ?? ''
      }
      expect(text).toBe('Simulated reply to: hello openai')
      expect(chunks).toBeGreaterThan(2)

      // Served from the pool (the SDKs sent no key), by each provider's primary key.
      await expect.poll(() => records.length).toBe(2)
      expect(records.map((r) => [r.provider, r.status, r.outcome, r.credentialHint])).toEqual([
        ['anthropic', 200, 'ok', 'sk-a...0001'],
        ['openai', 200, 'ok', 'sk-p...0001'],
      ])

      // The app's own route still answers, and shows hints only.
      const health = await fetch(`${app.url}/health`)
      expect(health.status).toBe(200)
      const body = (await health.json()) as { keys: { anthropic: { hint: string }[]; openai: unknown[] } }
      expect(body.keys.anthropic.map((k) => k.hint)).toEqual(['sk-a...0001', 'sk-a...0002'])
      expect(JSON.stringify(body)).not.toContain('simulated-key')
    } finally {
      await app.close()
    }
  })

  it("a client whose placeholder key became BYOK gets the simulated provider's 401, as it would from the real one", async () => {
    const { start } = await load<{ start: Start }>(`examples/${name}/server.mjs`)
    const records: LoggedRecord[] = []
    const app = await start({ port: 0, onRecord: (r) => records.push(r) })
    try {
      const call = anthropicClient(`${app.url}/ai/anthropic`, 'sk-ant-placeholder').messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      })
      await expect(call).rejects.toBeInstanceOf(Anthropic.AuthenticationError)
      const chat = openaiClient(`${app.url}/ai/openai/v1`, 'sk-placeholder').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      await expect(chat).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
      await expect.poll(() => records.length).toBe(2)
      expect(records.map((r) => [r.provider, r.status, r.credentialHint])).toEqual([
        ['anthropic', 401, null],
        ['openai', 401, null],
      ])
    } finally {
      await app.close()
    }
  })

  it('run directly: says it uses the simulator, prints the SDK base URLs and logs one line per request', async () => {
    const child = run([`examples/${name}/server.mjs`], childEnv({ PORT: '0' }))
    try {
      await waitForOutput(child, /using the local SIMULATOR/)
      const [, url] = await waitForOutput(child, /Anthropic SDK baseURL: (http:\/\/127\.0\.0\.1:\d+)\/ai\/anthropic/)
      expect(child.output()).toContain(`OpenAI SDK baseURL:    ${url}/ai/openai/v1`)
      expect(child.output()).toMatch(/curl /)

      const message = await anthropicClient(`${url}/ai/anthropic`).messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      })
      expect(message.content[0]).toMatchObject({ text: 'Simulated reply to: hi' })
      await waitForOutput(child, /anthropic POST \/v1\/messages status=200 outcome=ok served_by=sk-a\.\.\.0001/)
      expect(child.output()).not.toContain('simulated-key')
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited(child)).toBe(0)
  })
})

// Whether this machine can listen on IPv6 loopback (a container may have no IPv6).
const ipv6 = await new Promise<boolean>((resolve) => {
  const probe = createServer()
  probe.once('error', () => resolve(false))
  probe.listen(0, '::1', () => probe.close(() => resolve(true)))
})

describe.each(['express', 'koa', 'fastify'])('examples/%s on HOST=::1', (name) => {
  it.skipIf(!ipv6)('gives a URL with the address in brackets, which answers', async () => {
    const { start } = await load<{ start: (o: { port: number; host: string; onRecord: () => void }) => Promise<StartedExample> }>(`examples/${name}/server.mjs`)
    const app = await start({ port: 0, host: '::1', onRecord: () => {} })
    try {
      expect(app.url).toMatch(/^http:\/\/\[::1\]:\d+$/)
      expect((await fetch(`${app.url}/health`)).status).toBe(200)
    } finally {
      await app.close()
    }
  })
})
if (!ipv6) console.warn('examples: no IPv6 loopback here, the HOST=::1 test is skipped')

/** Starts a long streamed answer and stops reading it once the headers are in: a paused client. */
function pausedStream(url: string): Promise<IncomingMessage> {
  const prompt = 'word '.repeat(200_000)
  const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: prompt }] })
  return new Promise((resolve, reject) => {
    const req = request(`${url}/ai/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.pause()
      res.on('error', () => {})
      resolve(res)
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe.each(['express', 'koa', 'fastify'])('examples/%s on SIGTERM', (name) => {
  it('exits promptly and cleanly while a client is paused mid-stream', async () => {
    const child = run([`examples/${name}/server.mjs`], childEnv({ PORT: '0' }))
    let res: IncomingMessage | undefined
    try {
      const [, url] = await waitForOutput(child, /OpenAI SDK baseURL: +(http:\/\/127\.0\.0\.1:\d+)\/ai\/openai/)
      res = await pausedStream(url!)
      expect(res.statusCode).toBe(200)
      // Let the stream back up against the paused client.
      await new Promise((r) => setTimeout(r, 300))
      const t0 = Date.now()
      child.kill('SIGTERM')
      const code = await Promise.race([exited(child), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000))])
      expect(code, child.output()).toBe(0)
      // Well under the 5 s a process manager usually waits before SIGKILL.
      expect(Date.now() - t0).toBeLessThan(5000)
      await waitForOutput(child, /openai POST \/v1\/chat\/completions status=200 outcome=client_aborted/)
      // No stack trace, no key.
      expect(child.output()).not.toMatch(/\n\s+at /)
      expect(child.output()).not.toContain('simulated-key')
    } finally {
      res?.destroy()
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})

describe('examples/koa app errors', () => {
  // Issue 15: without its `error` listener Koa prints a stack for each of these (through console.error).
  it('prints nothing for clients that hang up mid-stream or mid-upload, nor for a body its parser cannot read', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { start } = await load<{ start: Start }>('examples/koa/server.mjs')
    const records: LoggedRecord[] = []
    const app = await start({ port: 0, onRecord: (r) => records.push(r) })
    try {
      // Mid-stream: Koa reports "Premature close".
      const res = await pausedStream(app.url)
      res.destroy()
      // Mid-upload: half the announced body, then the connection closes.
      const { port } = new URL(app.url)
      const upload = connect(Number(port), '127.0.0.1')
      upload.on('error', () => {})
      upload.end('POST /ai/openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"model":')
      // A body the app's parser cannot read, on one of its own paths: a 400.
      const bad = await raw(app.url, '/health', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' })
      expect(bad.status).toBe(400)

      await expect.poll(() => records.filter((r) => r.outcome === 'client_aborted').length).toBe(2)
      // Koa reports a stream's failure once its pipe has unwound.
      await new Promise((r) => setTimeout(r, 200))
      expect(printed.mock.calls.map((args) => String(args[0]))).toEqual([])
    } finally {
      printed.mockRestore()
      await app.close()
    }
  })
})

describe('examples/demo', () => {
  it('runs to the end with no failed request, shows failovers and key states, and prints no key', async () => {
    const { DEMO_KEYS } = await load<{ DEMO_KEYS: { [provider: string]: string[] } }>('examples/demo/demo.mjs')
    const child = run(['examples/demo/demo.mjs'], childEnv())
    const code = await exited(child)
    const output = child.output()
    expect(code, output).toBe(0)

    expect(output).toMatch(/failover: sk-a\.\.\.0001 ✗ 429 → sk-a\.\.\.0002 ✓/)
    expect(output).toMatch(/failover: sk-a\.\.\.0002 ✗ 401 → sk-a\.\.\.0003 ✓/)
    expect(output).toMatch(/failover: sk-p\.\.\.0001 ✗ 429 → sk-p\.\.\.0002 ✓/)
    expect(output).toMatch(/sk-a\.\.\.0001 +temporary +429 rate limited +back in \d/)
    expect(output).toMatch(/sk-a\.\.\.0002 +permanent +401 auth failed/)
    expect(output).toMatch(/sk-a\.\.\.0001 +valid +back in rotation/)
    expect(output).toMatch(/EXPECTED: no usable key left; the SDK got RateLimitError, Retry-After: \d+/)
    // Gemini: a daily quota takes the key out until midnight Pacific (hours away, never the RetryInfo's seconds).
    expect(output).toMatch(/failover: AIza\.\.\.0001 ✗ 429 → AIza\.\.\.0002 ✓/)
    const shown = output.match(/AIza\.\.\.0001 +temporary +429 quota exhausted +back in (\d+h \d+m|\d+m \d+s|[\d.]+s)/)
    expect(shown, output).not.toBeNull()
    const [h = 0, m = 0, sec = 0] = /^(?:(\d+)h )?(?:(\d+)m ?)?(?:([\d.]+)s)?$/.exec(shown![1]!)!.slice(1).map(Number)
    const backInSeconds = (h || 0) * 3600 + (m || 0) * 60 + (sec || 0)
    expect(backInSeconds).toBeLessThanOrEqual(25 * 3600)
    // Far more than the RetryInfo's 20 s, unless the demo ran in the last minute before midnight Pacific.
    if (nextPacificMidnight(Date.now()) - Date.now() > 60_000) expect(backInSeconds).toBeGreaterThan(60)
    // Azure: a pool spanning two resources; the throttled one's request moves to the other's endpoint.
    expect(output).toMatch(/failover: azur\.\.\.0001 ✗ 429 → azur\.\.\.0002 ✓/)
    expect(output).toMatch(/azur\.\.\.0001 +temporary +429 rate limited +back in \d[\d.]*s +at 127\.0\.0\.1:\d+/)
    expect(output).toMatch(/summary: \d+ requests, \d+ served \(5 after a failover\), 0 failed, 1 refused as expected/)
    // Piped output carries no color codes.
    expect(output).not.toContain('\x1b[')

    const keys = Object.values(DEMO_KEYS).flat()
    expect(keys).toHaveLength(9)
    for (const key of keys) {
      expect(output).not.toContain(key)
      // Nor any part of a key beyond its hint (first and last 4 characters).
      expect(output).not.toContain(key.slice(4, -4))
    }
  }, 60_000)
})

describe.skipIf(!redisAvailable)('examples/cluster', () => {
  it('--demo: a 429 seen by one worker stops that key in every worker, no request fails, no key is printed', async () => {
    // The demo uses (and then deletes) a prefix of its own run.
    const child = run(['examples/cluster/server.mjs', '--demo'], childEnv({ PORT: '0', WORKERS: '3' }))
    const code = await exited(child)
    const output = child.output()
    expect(code, output).toBe(0)
    const [, prefix] = output.match(/3 workers on http:\/\/127\.0\.0\.1:\d+, key state shared through Redis at 127\.0\.0\.1:6379 under '(aibridge-demo:\d+:)'/) ?? []
    expect(prefix, output).toBeDefined()
    expect(output).toMatch(/demo: worker \d got the 429 on sk-a\.\.\.0001, failed over and answered 200/)
    for (const id of [1, 2, 3]) expect(output).toMatch(new RegExp(`demo: worker ${id} sees sk-a\\.\\.\\.0001 temporary, back in (29|30)s`))
    expect(output).toMatch(/demo: 6 more requests, answered by workers 1, 2, 3: 0 failed/)
    expect(output).toContain('demo: requests with sk-a...0001 after its 429, from any worker: 0')
    expect(output).not.toContain('simulated-key')
    const redis = new Redis(REDIS_URL)
    try {
      expect(await redis.keys(`${prefix}*`)).toEqual([])
    } finally {
      redis.disconnect()
    }
  }, 60_000)

  it('run directly: the workers serve until SIGTERM, then close their bridges and the process exits 0', async () => {
    const prefix = `aibridge-test:example-cluster:${process.pid}-${Date.now()}:`
    const child = run(['examples/cluster/server.mjs'], childEnv({ PORT: '0', WORKERS: '2', REDIS_PREFIX: prefix }))
    try {
      const [, url] = await waitForOutput(child, /2 workers on (http:\/\/127\.0\.0\.1:\d+)/, 30_000)
      const message = await anthropicClient(`${url}/ai/anthropic`).messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      })
      expect(message.content[0]).toMatchObject({ text: 'Simulated reply to: hi' })
      await waitForOutput(child, /\[worker \d\] \[aibridge\] anthropic POST \/v1\/messages status=200 outcome=ok served_by=sk-a\.\.\.0001/)
      child.kill('SIGTERM')
      expect(await exited(child), child.output()).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 60_000)
})
