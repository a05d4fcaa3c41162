import { createServer, type Server } from 'node:http'
import pino from 'pino'
import { closeServer, listen } from '../../../../test/support/http.js'
import { until } from '../../../../test/support/wait.js'
import { createBridge, type Bridge, type BridgeOptions, type InterceptionRecord } from '../../src/index.js'

export interface Running {
  bridge: Bridge
  /** `http://127.0.0.1:PORT` of the host app that serves `bridge.handle`. */
  url: string
  port: number
  server: Server
  records: InterceptionRecord[]
  /** Every line the bridge logged, as pino wrote it (JSON). */
  logs: string[]
  /** Resolves once `n` records have been emitted. */
  waitForRecords(n: number, timeoutMs?: number): Promise<InterceptionRecord[]>
  /** Stops the host app only. */
  closeHost(): Promise<void>
  /** Stops the host app, then the bridge. */
  close(): Promise<void>
}

/** A pino logger at the most verbose level whose lines are collected, as a host would log them. */
export function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = []
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) })
  return { logger, lines }
}

/**
 * A plain node:http app on 127.0.0.1:0 serving `bridge.handle(req, res)`, with records and log
 * lines collected. `onInterception` and `logger` given in `options` replace the collecting ones.
 */
export async function startBridge(options: BridgeOptions, serve?: (bridge: Bridge) => Parameters<typeof createServer>[1]): Promise<Running> {
  const records: InterceptionRecord[] = []
  const { logger, lines } = capturingLogger()
  const bridge = createBridge({
    logger,
    onInterception: (r) => void records.push(structuredClone(r)),
    ...options,
  })
  const server = createServer(serve ? serve(bridge) : (req, res) => void bridge.handle(req, res))
  const url = await listen(server)
  const running: Running = {
    bridge,
    url,
    port: Number(new URL(url).port),
    server,
    records,
    logs: lines,
    async waitForRecords(n, timeoutMs = 5000) {
      await until(() => records.length >= n, timeoutMs, () => `expected ${n} records, got ${records.length}`)
      return records
    },
    closeHost: () => closeServer(server),
    async close() {
      await running.closeHost()
      await bridge.close()
    },
  }
  return running
}

/** Keys long and distinctive enough that finding one anywhere means it leaked. */
export function testKey(label: string): string {
  return `sk-${label}-q7W3xR9vL2mN8pK4sT6uY-${label}`
}
