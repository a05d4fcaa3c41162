/** Sends an answer over the wire, shaped by a delivery fault: slow first byte, death mid-way, a stall, or an in-stream error. */
import type { ServerResponse } from 'node:http'
import type { Answer } from './answer.js'
import type { DeliveryFault } from './faults.js'
import type { Headers } from './rate-limit-headers.js'

/** How an answer is delivered: a delivery fault, with a stream error already written out as its event. */
export type Delivery = Exclude<DeliveryFault, { kind: 'stream_error' }> | { kind: 'stream_error'; afterEvents: number; event: string }

/** One request's response, and what the server needs to know as it progresses. */
export interface Exchange {
  res: ServerResponse
  eventDelayMs: number
  /** Headers every answer carries, e.g. the request id. */
  headers: Headers
  /** Called once the status line is sent. */
  onStatus(status: number): void
  /** Resolves on `sim.release()` or when the connection closes. */
  stalled(): Promise<void>
  /** Destroys the socket on purpose, so its close is not taken for a client abort. */
  die(): void
}

function sleep(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      clearImmediate(immediate)
      res.off('close', done)
      resolve()
    }
    // With no delay, still yield once so each event leaves in its own write.
    const timer = ms > 0 ? setTimeout(done, ms) : undefined
    const immediate = ms > 0 ? undefined : setImmediate(done)
    res.once('close', done)
  })
}

/** Resolves once the chunk is handed to the socket, or the connection is gone. */
function write(res: ServerResponse, chunk: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('close', done)
      resolve()
    }
    res.once('close', done)
    res.write(chunk, done)
  })
}

const gone = (res: ServerResponse): boolean => res.destroyed

function writeHead(x: Exchange, status: number, headers: Headers): void {
  x.res.writeHead(status, { ...headers, ...x.headers })
  x.onStatus(status)
}

export async function deliver(x: Exchange, answer: Answer, fault: Delivery | undefined): Promise<void> {
  const { res } = x
  if (fault?.kind === 'slow_first_byte') {
    await sleep(res, fault.ms)
    if (gone(res)) return
  }

  if (answer.type === 'json') {
    const body = Buffer.from(JSON.stringify(answer.body))
    writeHead(x, answer.status, { ...answer.headers, 'content-type': 'application/json', 'content-length': String(body.length) })
    if (fault?.kind === 'die_mid_stream') {
      await write(res, body.subarray(0, Math.floor(body.length / 2)))
      x.die()
      return
    }
    if (fault?.kind === 'stall') {
      res.flushHeaders()
      await x.stalled()
      if (gone(res)) return
    }
    res.end(body)
    return
  }

  writeHead(x, 200, { ...answer.headers, 'content-type': answer.contentType ?? 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
  res.flushHeaders()
  const { events } = answer
  const stopAt =
    fault?.kind === 'die_mid_stream' ? (fault.afterEvents ?? 2)
    : fault?.kind === 'stall' ? (fault.afterEvents ?? 1)
    : fault?.kind === 'stream_error' ? fault.afterEvents
    : -1
  for (let i = 0; i <= events.length; i++) {
    if (i === Math.min(stopAt, events.length)) {
      if (fault?.kind === 'die_mid_stream') return x.die()
      if (fault?.kind === 'stream_error') {
        if (i > 0) await sleep(res, x.eventDelayMs)
        if (!gone(res)) await write(res, fault.event)
        break
      }
      await x.stalled()
    }
    if (gone(res)) return
    const event = events[i]
    if (event === undefined) break
    if (i > 0) {
      await sleep(res, x.eventDelayMs)
      if (gone(res)) return
    }
    await write(res, event)
  }
  if (gone(res)) return
  res.end()
}
