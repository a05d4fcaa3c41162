// examples/key-reload as a user runs it: keys from a file, swapped on SIGHUP while requests keep coming.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { post } from './support/http.js'
import { echoKey, json, startUpstream, type Upstream } from './support/upstream.js'
import { until } from './support/wait.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const OLD = ['sk-proj-reload-old-Qm7vT2xLp9RkZ4wB-0001', 'sk-proj-reload-old-Hc3nY8sDf1JqU6eK-0002']
const NEW = ['sk-proj-reload-new-Wb5rG0aNt7XoP2mV-0003']

let up: Upstream
let dir: string
let child: (ChildProcess & { output: () => string }) | undefined

beforeEach(async () => {
  up = await startUpstream(echoKey)
  dir = mkdtempSync(join(tmpdir(), 'aibridge-reload-test-'))
})
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  child = undefined
  await up.close()
  rmSync(dir, { recursive: true, force: true })
})

function run(env: NodeJS.ProcessEnv): ChildProcess & { output: () => string } {
  const clean = { ...process.env }
  for (const name of ['ANTHROPIC_API_KEYS', 'OPENAI_API_KEYS', 'KEYS_FILE', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL']) delete clean[name]
  const c = spawn(process.execPath, ['examples/key-reload/server.mjs'], { cwd: root, env: { ...clean, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  c.stdout!.on('data', (b: Buffer) => (output += b.toString('utf8')))
  c.stderr!.on('data', (b: Buffer) => (output += b.toString('utf8')))
  return Object.assign(c, { output: () => output })
}

async function waitForOutput(c: ReturnType<typeof run>, pattern: RegExp, from = 0): Promise<RegExpMatchArray> {
  let m: RegExpMatchArray | null = null
  await until(() => (m = c.output().slice(from).match(pattern)) !== null || c.exitCode !== null, 10_000, () => `${pattern} in:\n${c.output()}`)
  if (!m) throw new Error(`exited without ${pattern}:\n${c.output()}`)
  return m
}

/**
 * Sends SIGHUP until `pattern` shows after `from`: on a loaded CI machine one signal was once seen to go
 * unanswered (the reload is idempotent, so a second one changes nothing else).
 */
async function hupUntil(c: ReturnType<typeof run>, pattern: RegExp, from: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + 15_000
  for (;;) {
    c.kill('SIGHUP')
    const seen = Date.now()
    while (Date.now() - seen < 2_000) {
      const m = c.output().slice(from).match(pattern)
      if (m) return m
      if (c.exitCode !== null) throw new Error(`exited without ${pattern}:\n${c.output()}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in:\n${c.output()}`)
  }
}

describe('examples/key-reload', () => {
  it('swaps the keys on SIGHUP under load with no failed request; the old keys are never used again', async () => {
    const file = join(dir, 'keys.json')
    writeFileSync(file, JSON.stringify({ openai: OLD }))
    child = run({ KEYS_FILE: file, OPENAI_BASE_URL: up.url })
    const [, url] = await waitForOutput(child, /Listening on (http:\/\/127\.0\.0\.1:\d+)/)
    expect(child.output()).toContain('openai: 2 key(s): sk-p...0001, sk-p...0002')

    const revoked = new Set<string>()
    up.handle((seen, res, req) => {
      const script = revoked.has(seen.key!) ? json(401, { error: { message: 'revoked', type: 'invalid_request_error', code: 'invalid_api_key' } }) : echoKey
      setTimeout(() => void script(seen, res, req), 5)
    })
    const statuses: number[] = []
    let running = true
    const worker = async (): Promise<void> => {
      while (running) statuses.push((await post(url!, '/ai/openai/v1/chat/completions', { model: 'm' })).status)
    }
    const workers = Array.from({ length: 6 }, worker)
    await until(() => statuses.length >= 40, 10_000)

    const mark = child.output().length
    writeFileSync(file, JSON.stringify({ openai: NEW }))
    await hupUntil(child, /keys reloaded: openai: 1 key\(s\): sk-p\.\.\.0003/, mark)
    await until(() => statuses.length >= 80, 10_000)
    // Revoked at the provider once the swap is done: a request that still chose an old key would fail.
    for (const key of OLD) revoked.add(key)
    const seenAtRevoke = up.requests.length
    const countAtRevoke = statuses.length
    await until(() => statuses.length >= countAtRevoke + 40, 10_000)
    running = false
    await Promise.all(workers)

    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect(new Set(up.requests.slice(seenAtRevoke).map((s) => s.key))).toEqual(new Set(NEW))
    const health = (await (await fetch(`${url}/health`)).json()) as { keys: { openai: unknown[] } }
    expect(health.keys.openai).toEqual([{ id: expect.any(String), hint: 'sk-p...0003', state: 'valid' }])
    for (const key of [...OLD, ...NEW]) expect(child.output()).not.toContain(key)
  })

  it('a keys file that cannot be used keeps the current keys and says why, without a key', async () => {
    const file = join(dir, 'keys.json')
    writeFileSync(file, JSON.stringify({ openai: OLD }))
    child = run({ KEYS_FILE: file, OPENAI_BASE_URL: up.url })
    const [, url] = await waitForOutput(child, /Listening on (http:\/\/127\.0\.0\.1:\d+)/)

    let mark = child.output().length
    writeFileSync(file, `{ "openai": ["${NEW[0]}", ]`)
    await hupUntil(child, /keys not reloaded: .* could not be read as JSON \(SyntaxError\); the current keys stay/, mark)

    mark = child.output().length
    writeFileSync(file, JSON.stringify({ openai: [NEW[0], NEW[0]], anthropic: NEW }))
    await hupUntil(child, /keys not reloaded for openai: aibridge: providers\.openai\.keys\[1\] duplicates providers\.openai\.keys\[0\]; its current keys stay/, mark)
    await waitForOutput(child, /anthropic is new in the keys file: restart to serve it/, mark)

    expect(((await post(url!, '/ai/openai/v1/x', {})).json() as { key: string }).key).toBe(OLD[0])
    for (const key of [...OLD, ...NEW]) expect(child.output()).not.toContain(key)
  })

  it('without KEYS_FILE: the simulator and a temporary keys file of its fake keys, which reload() reads again', async () => {
    const { start } = (await import(pathToFileURL(join(root, 'examples/key-reload/server.mjs')).href)) as {
      start: (o: object) => Promise<{ url: string; keysFile: string; simulator: unknown; reload: () => boolean; close: () => Promise<void> }>
    }
    const lines: string[] = []
    const app = await start({ port: 0, log: (l: string) => lines.push(l), onRecord: () => {} })
    try {
      expect(app.simulator).not.toBeNull()
      const res = await post(app.url, '/ai/openai/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      expect(res.status).toBe(200)
      writeFileSync(app.keysFile, JSON.stringify({ openai: ['sk-proj-simulated-key-0002'], anthropic: ['sk-ant-simulated-key-0001'] }))
      expect(app.reload()).toBe(true)
      expect(lines).toEqual(['[aibridge] keys reloaded: anthropic: 1 key(s): sk-a...0001', '[aibridge] keys reloaded: openai: 1 key(s): sk-p...0002'])
    } finally {
      await app.close()
    }
    expect(existsSync(app.keysFile)).toBe(false)
  })
})
