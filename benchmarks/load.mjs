// The load side: a closed-loop load generator (each connection sends its next request when the last
// answer has ended), sequential SSE requests timed to their first event, and a slow SSE reader.
// Raw keep-alive sockets and prebuilt request bytes keep it cheap (see http1.mjs).
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { MessageReader, statusOf } from './http1.mjs'

/** A 2 KiB Anthropic-style JSON body. */
export function messagesBody(bytes = 2048) {
  const shape = { model: 'claude-bench', max_tokens: 256, messages: [{ role: 'user', content: '' }] }
  const pad = bytes - Buffer.byteLength(JSON.stringify(shape))
  shape.messages[0].content = 'x'.repeat(pad)
  return JSON.stringify(shape)
}

/** The bytes of one POST with a JSON body; the client sends no credential (the proxy injects the key). */
export function postBytes(port, path, body) {
  return Buffer.from(
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\naccept: application/json\r\n` +
      `anthropic-version: 2023-06-01\r\nuser-agent: aibridge-bench\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  )
}

/** One keep-alive connection that runs one request at a time. */
class Connection {
  #socket
  #reader
  #exchange = null

  constructor(port) {
    this.#reader = new MessageReader(
      {
        onHead: (head) => this.#exchange?.onHead?.(head),
        onData: (chunk) => this.#exchange?.onData?.(chunk),
        onEnd: (head) => {
          const exchange = this.#exchange
          this.#exchange = null
          if (head.includes('\r\nconnection: close\r\n')) this.close()
          exchange?.onEnd(head)
        },
      },
      { response: true },
    )
    this.#socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
    this.#socket.on('data', (buf) => {
      try {
        this.#reader.push(buf)
      } catch (err) {
        this.#fail(err)
      }
    })
    this.#socket.on('error', (err) => this.#fail(err))
    this.#socket.on('close', () => {
      if (!this.#reader.close()) this.#fail(new Error('connection closed mid-response'))
      else this.#fail(new Error('connection closed'))
    })
  }

  get socket() {
    return this.#socket
  }

  get closed() {
    return this.#socket.destroyed
  }

  /** Sends `bytes`; `exchange` gets onHead(head), onData(chunk), onEnd(head) or onError(err). */
  request(bytes, exchange) {
    this.#exchange = exchange
    this.#socket.write(bytes)
  }

  close() {
    this.#socket.destroy()
  }

  #fail(err) {
    const exchange = this.#exchange
    this.#exchange = null
    this.#socket.destroy()
    exchange?.onError(err)
  }
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

/**
 * Closed loop: `connections` connections each sending `bytes` back to back for `seconds`.
 * Counts a non-200 answer or a broken connection as an error. Answers that end after the deadline
 * are in `completed` (the proxy spent CPU on them) but not in the rate or the latencies.
 */
export function closedLoop({ port, bytes, connections, seconds }) {
  const latencies = []
  const statuses = {}
  let completed = 0
  let errors = 0
  let running = connections
  const start = performance.now()
  const deadline = start + seconds * 1000
  const conns = []
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(guard)
      for (const c of conns) c.close()
      latencies.sort((a, b) => a - b)
      resolve({ rps: latencies.length / seconds, completed, errors, statuses, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) })
    }
    // A target that stops answering must not hang the run.
    const guard = setTimeout(() => {
      errors += running
      running = 0
      finish()
    }, seconds * 1000 + 10_000)
    const run = (slot) => {
      let t0 = 0
      const exchange = {
        onEnd(head) {
          const now = performance.now()
          completed++
          const status = statusOf(head)
          statuses[status] = (statuses[status] ?? 0) + 1
          if (status !== 200) errors++
          if (now <= deadline) latencies.push(now - t0)
          next()
        },
        onError() {
          errors++
          conns[slot] = new Connection(port)
          // Back off a little so a dead target does not spin.
          setTimeout(next, 10)
        },
      }
      const next = () => {
        if (running === 0) return
        if (performance.now() >= deadline) {
          if (--running === 0) finish()
          return
        }
        if (conns[slot].closed) conns[slot] = new Connection(port)
        t0 = performance.now()
        conns[slot].request(bytes, exchange)
      }
      conns[slot] = new Connection(port)
      next()
    }
    for (let i = 0; i < connections; i++) run(i)
  })
}

/** `count` SSE requests one after another on one connection, each timed from its write to its first body byte. */
export async function firstEvent({ port, bytes, count }) {
  const times = []
  let errors = 0
  let conn = new Connection(port)
  for (let i = 0; i < count; i++) {
    if (conn.closed) conn = new Connection(port)
    const ok = await new Promise((resolve) => {
      const t0 = performance.now()
      let first = 0
      conn.request(bytes, {
        onData(chunk) {
          if (first === 0 && chunk.length > 0) first = performance.now()
        },
        onEnd(head) {
          if (statusOf(head) === 200 && first > 0) times.push(first - t0)
          resolve(statusOf(head) === 200 && first > 0)
        },
        onError: () => resolve(false),
      })
    })
    if (!ok) errors++
  }
  conn.close()
  times.sort((a, b) => a - b)
  return { count: times.length, errors, p50: quantile(times, 0.5), p99: quantile(times, 0.99) }
}

/**
 * One SSE request read at no more than `mibPerSecond`: the socket is paused whenever the reader is
 * ahead of that rate, so the proxy must hold the stream back (backpressure) or buffer it.
 */
export function slowRead({ port, bytes, mibPerSecond, expectBytes }) {
  const rate = mibPerSecond * 1024 * 1024
  const conn = new Connection(port)
  const socket = conn.socket
  return new Promise((resolve) => {
    let received = 0
    let status = 0
    const start = performance.now()
    const done = (ok) => {
      conn.close()
      resolve({ ok: ok && status === 200 && received === expectBytes, status, received, seconds: (performance.now() - start) / 1000 })
    }
    let timer = null
    socket.on('data', () => {
      const ahead = received / rate - (performance.now() - start) / 1000
      if (ahead > 0.001 && timer === null) {
        socket.pause()
        timer = setTimeout(() => {
          timer = null
          socket.resume()
        }, ahead * 1000)
      }
    })
    conn.request(bytes, {
      onHead: (head) => (status = statusOf(head)),
      onData: (chunk) => (received += chunk.length),
      onEnd: () => done(true),
      onError: () => done(false),
    })
  })
}
