import { spawn } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
// The command as installed: the package's bin, which runs the build.
const cli = fileURLToPath(new URL('../bin/aibridge-simulator.js', import.meta.url))

// The CLI runs from the build (`pnpm build`, which the workspace's `pnpm test` runs first).
test.skipIf(!existsSync(built))('the CLI starts the simulator, prints its base URLs and stops on SIGTERM', async () => {
  const child = spawn(process.execPath, [cli, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  try {
    let out = ''
    child.stdout.setEncoding('utf8')
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk
        if (out.includes('Azure endpoint')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`CLI exited with ${code}: ${out}`)))
    })
    const anthropic = /Anthropic SDK baseURL: (http:\/\/127\.0\.0\.1:\d+\/anthropic)\n/.exec(out)?.[1]
    const openai = /OpenAI SDK baseURL: +(http:\/\/127\.0\.0\.1:\d+\/openai\/v1)\n/.exec(out)?.[1]
    const gemini = /Gemini baseUrl: +(http:\/\/127\.0\.0\.1:\d+\/gemini)\n/.exec(out)?.[1]
    const azure = /Azure endpoint: +(http:\/\/127\.0\.0\.1:\d+\/azure)\n/.exec(out)?.[1]
    expect(anthropic).toBeDefined()
    expect(openai).toBeDefined()
    expect(gemini).toBeDefined()
    expect(azure).toBeDefined()
    const res = await fetch(`${openai}/models`, { headers: { authorization: 'Bearer sk-test-cli' } })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { object: string }).object).toBe('list')

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
  }
})

test.skipIf(!existsSync(built))('a flag that is not a number stops the CLI with a message and the usage line', async () => {
  for (const args of [['--port', ''], ['--port', 'http'], ['--event-delay-ms', 'x']]) {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code, args.join(' ')).toBe(1)
    expect(err).toContain(`${args[0]} must be a number, got ${JSON.stringify(args[1])}`)
    expect(err).toContain('usage: aibridge-simulator')
  }
})

test.skipIf(!existsSync(built))('an unknown flag gets the usage line; a port already taken gets only its message', async () => {
  const run = async (args: string[]): Promise<{ code: number | null; err: string }> => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    return { code, err }
  }
  const unknown = await run(['--nope'])
  expect(unknown.code).toBe(1)
  expect(unknown.err).toContain('usage: aibridge-simulator')

  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  try {
    const { code, err } = await run(['--port', String((taken.address() as AddressInfo).port)])
    expect(code).toBe(1)
    expect(err).toContain('EADDRINUSE')
    expect(err).not.toContain('usage:')
  } finally {
    taken.close()
  }
})
