#!/usr/bin/env node
/** `aibridge-simulator [--port 4100] [--host 127.0.0.1] [--event-delay-ms 0]`: runs the simulator until interrupted. */
import { parseArgs } from 'node:util'
import { startSimulator } from './simulator.js'

const USAGE = 'usage: aibridge-simulator [--port 4100] [--host 127.0.0.1] [--event-delay-ms 0]'

/** A mistake in the command line: the usage line follows its message. */
class UsageError extends Error {}

/** A flag's number; an empty or non-numeric value is an error, not 0. */
function number(flag: string, value: string): number {
  const n = value.trim() === '' ? NaN : Number(value)
  if (!Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got ${JSON.stringify(value)}`)
  return n
}

/** Bad flags (parseArgs), bad values, and options the simulator refuses are usage mistakes. */
function isUsageError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) return true
  return err instanceof TypeError && err.message.startsWith('@aibridge/simulator: ')
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4100' },
      host: { type: 'string', default: '127.0.0.1' },
      'event-delay-ms': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const sim = await startSimulator({
    port: number('--port', values.port),
    host: values.host,
    eventDelayMs: number('--event-delay-ms', values['event-delay-ms']),
  })
  console.log(`aibridge simulator listening on ${sim.url}`)
  console.log(`  Anthropic SDK baseURL: ${sim.anthropicBaseURL}`)
  console.log(`  OpenAI SDK baseURL:    ${sim.openaiBaseURL}/v1`)
  console.log(`  Gemini baseUrl:        ${sim.geminiBaseURL}`)
  console.log(`  Azure endpoint:        ${sim.azureBaseURL}`)
  const stop = (): void => {
    void sim.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  // A runtime failure (the port taken, say) is not a usage mistake.
  if (isUsageError(err)) console.error(USAGE)
  process.exit(1)
})
