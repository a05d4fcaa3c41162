// The READMEs' code, run as written. A fenced block right after `<!-- snippet: server -->` is a program
// that must start with only one of the key variables set (each in turn); one after
// `<!-- snippet: client mode=... -->` connects clients to a bridge mounted under /ai at
// http://localhost:3000 (or, for `mode=fetch`, to the `bridge` of the server snippets) and logs each
// reply: it runs against a bridge set up as its mode says, in front of a scripted provider.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createBridge, type Bridge, type BridgeOptions, type InterceptionRecord } from '@aibridge/core'
import { pathBelow } from '@aibridge/core/adapter'
import { afterEach, describe, expect, it } from 'vitest'
import { fixture } from './support/fixture.js'
import { raw } from './support/http.js'
import { providerAnswer } from './support/upstream.js'
import { until } from './support/wait.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const READMES = ['README.md', 'packages/core/README.md', 'packages/express/README.md', 'packages/koa/README.md', 'packages/fastify/README.md']
const dir = join(root, 'test/.snippets')
mkdirSync(dir, { recursive: true })

interface Snippet {
  id: string
  where: string
  kind: 'server' | 'client'
  mode: string
  code: string
}

function snippets(): Snippet[] {
  const out: Snippet[] = []
  for (const file of READMES) {
    const text = readFileSync(join(root, file), 'utf8')
    const re = /<!-- snippet: (server|client)(?: mode=([\w-]+))? -->\n+```(?:js|javascript)\n([\s\S]*?)\n```/g
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const line = text.slice(0, m.index).split('\n').length
      out.push({ id: `${file.replace(/\W+/g, '-')}-${line}`, where: `${file}:${line}`, kind: m[1] as Snippet['kind'], mode: m[2] ?? '', code: m[3]! })
    }
    // A marker that does not sit right before a js block would silently test nothing.
    expect(text.match(/<!-- snippet:/g)?.length ?? 0, `${file}: every snippet marker is followed by a js block`).toBe(out.filter((s) => s.where.startsWith(`${file}:`)).length)
  }
  return out
}

const all = snippets()
const KEY_VARS = { ANTHROPIC_API_KEYS: 'sk-ant-api03-readme-snippet-Qm7vT2xLp9Rk', OPENAI_API_KEYS: 'sk-proj-readme-snippet-Hc3nY8sDf1Jq' } as const

describe('README server snippets start with only one key variable set', () => {
  it('finds them', () => expect(all.filter((s) => s.kind === 'server').length).toBeGreaterThanOrEqual(8))

  for (const s of all.filter((x) => x.kind === 'server')) {
    for (const only of Object.keys(KEY_VARS) as Array<keyof typeof KEY_VARS>) {
      it(`${s.where} with only ${only}`, async () => {
        const file = join(dir, `${s.id}.mjs`)
        writeFileSync(file, s.code + '\n')
        const env: NodeJS.ProcessEnv = { ...process.env, [only]: KEY_VARS[only] }
        for (const name of Object.keys(KEY_VARS)) if (name !== only) delete env[name]
        const child = spawn(process.execPath, ['--import', pathToFileURL(join(root, 'test/support/listening.mjs')).href, file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
        let output = ''
        child.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')))
        child.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')))
        try {
          await until(() => /SNIPPET LISTENING \d+/.test(output) || child.exitCode !== null, 15_000, () => `the snippet to listen:\n${output}`)
          expect(child.exitCode, output).toBeNull()
          const port = /SNIPPET LISTENING (\d+)/.exec(output)![1]
          // A path aibridge refuses itself (no upstream call) shows the bridge is mounted and serving.
          // Sent byte for byte (fetch would resolve the dots): nothing may leave for a real provider.
          const paths = ['/ai', ''].flatMap((prefix) => ['openai', 'anthropic'].map((provider) => `${prefix}/${provider}/v1/%2e%2e/x`))
          const statuses = await Promise.all(paths.map(async (path) => (await raw(`http://127.0.0.1:${port}`, path)).status))
          expect(statuses, output).toContain(400)
          expect(output).not.toContain(KEY_VARS[only])
        } finally {
          child.kill('SIGKILL')
        }
      })
    }
  }
})

// ---- Client recipes ----------------------------------------------------------------------------

const POOL = { openai: 'sk-proj-readme-pool-key-Wb5rG0aNt7XoP2mV', anthropic: 'sk-ant-api03-readme-pool-key-Ld4kS9qEz6Cy' }
const TOKEN = 'gw-readme-token-Ja8pR3uBw5TnG7cX'
const CLIENT = { openai: 'sk-proj-readme-client-own-Zx81Qp0Lm2Nv', anthropic: 'sk-ant-api03-readme-client-own-Hy62Jd9K' }
const REPLY = 'Hello from the scripted provider'

const f = fixture(providerAnswer(REPLY))
const savedEnv = { ...process.env }
afterEach(() => {
  for (const name of ['AIBRIDGE_TOKEN', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY']) {
    if (savedEnv[name] === undefined) delete process.env[name]
    else process.env[name] = savedEnv[name]
  }
})

/** What each mode's bridge is, and what the provider must see. */
const MODES: Record<string, { options: Partial<BridgeOptions>; expectKeys: string[]; principal: string | null }> = {
  none: { options: {}, expectKeys: [POOL.openai, POOL.anthropic], principal: null },
  token: { options: { authenticate: (t) => (t === TOKEN ? { id: 'alice' } : null) }, expectKeys: [POOL.openai, POOL.anthropic], principal: 'alice' },
  'token-byok': { options: { authenticate: (t) => (t === TOKEN ? { id: 'alice' } : null) }, expectKeys: [CLIENT.openai, CLIENT.anthropic], principal: 'alice' },
  'byok-false': { options: { byok: false }, expectKeys: [POOL.openai, POOL.anthropic], principal: null },
  fetch: { options: {}, expectKeys: [POOL.openai, POOL.anthropic], principal: null },
}

/** Runs a client snippet as a module whose body is the snippet (imports hoisted), with `bridge` and a console that collects lines. */
async function runClient(s: Snippet, origin: string, bridge: Bridge): Promise<string[]> {
  const code = s.code.replaceAll('http://localhost:3000', origin)
  const lines = code.split('\n')
  const imports = lines.filter((l) => l.startsWith('import '))
  for (const l of imports) expect(l, `${s.where}: imports on one line each`).toMatch(/ from '[^']+'$/)
  const body = lines.filter((l) => !l.startsWith('import '))
  const file = join(dir, `${s.id}.mjs`)
  writeFileSync(file, `${imports.join('\n')}\nexport default async function snippet({ bridge, console }) {\n${body.join('\n')}\n}\n`)
  const logged: string[] = []
  const mod = (await import(`${pathToFileURL(file).href}?${Date.now()}`)) as { default: (ctx: object) => Promise<void> }
  await mod.default({ bridge, console: { ...console, log: (...args: unknown[]) => logged.push(args.join(' ')) } })
  return logged
}

describe('README client recipes run as written', () => {
  it('covers every way to connect', () => {
    const modes = new Set(all.filter((s) => s.kind === 'client').map((s) => s.mode))
    expect([...modes].sort()).toEqual(Object.keys(MODES).sort())
  })

  for (const s of all.filter((x) => x.kind === 'client')) {
    it(`${s.where} (${s.mode})`, async () => {
      const mode = MODES[s.mode]
      expect(mode, `unknown mode ${s.mode}`).toBeDefined()
      process.env.AIBRIDGE_TOKEN = TOKEN
      process.env.OPENAI_API_KEY = CLIENT.openai
      process.env.ANTHROPIC_API_KEY = CLIENT.anthropic
      const records: InterceptionRecord[] = []
      const bridge = f.own(
        createBridge({
          providers: { openai: { keys: [POOL.openai], baseURL: f.up.url }, anthropic: { keys: [POOL.anthropic], baseURL: f.up.url } },
          onInterception: (r) => void records.push(r),
          ...mode!.options,
        }),
      )
      const origin = await f.serve((req, res) => {
        const path = pathBelow(req.url ?? '/', '/ai')
        if (path === undefined) res.writeHead(404).end()
        else void bridge.handle(req, res, { path })
      })
      const logged = await runClient(s, origin, bridge)

      // One reply per console.log in the snippet, each the provider's answer.
      const calls = s.code.match(/console\.log\(/g)?.length ?? 0
      expect(calls).toBeGreaterThan(0)
      expect(logged).toEqual(Array.from({ length: calls }, () => REPLY))
      // Every request reached the provider with the key this way of connecting must give it, and
      // nothing else: no placeholder, no host token.
      expect(f.up.requests.length).toBeGreaterThanOrEqual(calls)
      for (const seen of f.up.requests) {
        expect(mode!.expectKeys, `${seen.url} carried ${seen.key}`).toContain(seen.key)
        for (const name of ['authorization', 'x-api-key', 'api-key']) {
          const value = seen.headers[name]
          if (value !== undefined) expect(mode!.expectKeys, `${seen.url} ${name}`).toContain(String(value).replace(/^Bearer /, ''))
        }
        expect(JSON.stringify(seen.headers)).not.toContain(TOKEN)
      }
      await until(() => records.length >= calls)
      for (const r of records) expect(r).toMatchObject({ principal: mode!.principal, status: 200 })
    })
  }
})

describe('the traps the client recipes steer around are real', () => {
  it("the AI SDK's OpenAI provider: a lowercase authorization header does not replace its own Authorization, so the placeholder goes upstream (BYOK)", async () => {
    const { createOpenAI } = await import('@ai-sdk/openai')
    const { generateText } = await import('ai')
    const bridge = f.own(createBridge({ providers: { openai: { keys: [POOL.openai], baseURL: f.up.url } } }))
    const origin = await f.serve((req, res) => void bridge.handle(req, res))
    const model = createOpenAI({ baseURL: `${origin}/openai/v1`, apiKey: 'placeholder-key', headers: { authorization: null as unknown as string } })('gpt-4.1-mini')
    await generateText({ model, prompt: 'Hello', maxRetries: 0 })
    expect(f.up.requests[0]!.key).toBe('placeholder-key')
  })

  it("LangChain's ChatOpenAI drops null headers, so its key goes upstream (BYOK)", async () => {
    const { ChatOpenAI } = await import('@langchain/openai')
    const bridge = f.own(createBridge({ providers: { openai: { keys: [POOL.openai], baseURL: f.up.url } } }))
    const origin = await f.serve((req, res) => void bridge.handle(req, res))
    await new ChatOpenAI({ model: 'gpt-4.1-mini', apiKey: 'placeholder-key', maxRetries: 0, configuration: { baseURL: `${origin}/openai/v1`, defaultHeaders: { authorization: null } } }).invoke('Hello')
    expect(f.up.requests[0]!.key).toBe('placeholder-key')
  })
})
