// The mock provider: answers Anthropic-style on any path, as cheaply as it can (see http1.mjs).
//   any path              200 JSON message (about 700 bytes, the headers a provider sends)
//   .../sse-first         an SSE stream: headers and message_start at once, the rest 1 ms later
//   .../sse-bulk/{mib}    an SSE stream of {mib} MiB of content_block_delta events, as fast as the reader takes it
// A request carrying the rate-limited key gets 429 with Retry-After: 0 (usable again at once), so a
// bridge with that key first fails over on every request.
import net from 'node:net'
import { MessageReader } from './http1.mjs'

const MESSAGE = JSON.stringify({
  id: 'msg_bench',
  type: 'message',
  role: 'assistant',
  model: 'claude-bench',
  content: [{ type: 'text', text: 'x'.repeat(512) }],
  stop_reason: 'end_turn',
  usage: { input_tokens: 600, output_tokens: 128 },
})
const RATE_LIMITED = JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'bench: rate limited' } })

const sseEvent = (event, data) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
const SSE_START = sseEvent('message_start', { type: 'message_start', message: { id: 'msg_bench', type: 'message', role: 'assistant', content: [] } })
const SSE_REST =
  sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hello' } }) +
  sseEvent('message_stop', { type: 'message_stop' })
const BULK_EVENT = sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'y'.repeat(200) } })
// One chunk of whole events, just under 64 KiB.
const BULK_DATA = BULK_EVENT.repeat(Math.floor(65536 / BULK_EVENT.length))
const BULK_CHUNK = Buffer.from(`${BULK_DATA.length.toString(16)}\r\n${BULK_DATA}\r\n`, 'latin1')

const chunk = (text) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`
const LAST_CHUNK = '0\r\n\r\n'

/** Body bytes of the `.../sse-bulk/{mib}` stream. */
export function bulkBytes(mib) {
  return chunksFor(mib) * BULK_DATA.length
}

function chunksFor(mib) {
  return Math.ceil((mib * 1024 * 1024) / BULK_DATA.length)
}

let date = new Date().toUTCString()
setInterval(() => (date = new Date().toUTCString()), 1000).unref()

function head(status, type, length) {
  const framing = length === undefined ? 'transfer-encoding: chunked' : `content-length: ${length}`
  return (
    `HTTP/1.1 ${status === 200 ? '200 OK' : '429 Too Many Requests'}\r\ndate: ${date}\r\ncontent-type: ${type}\r\n${framing}\r\n` +
    `request-id: req_bench\r\nanthropic-organization-id: org-bench\r\n${status === 429 ? 'retry-after: 0\r\n' : ''}connection: keep-alive\r\n\r\n`
  )
}

/** Starts the mock provider on 127.0.0.1, port 0; resolves to the server. */
export function startMockProvider({ rateLimitedKey }) {
  const limited = `\r\nx-api-key: ${rateLimitedKey.toLowerCase()}\r\n`
  const server = net.createServer({ noDelay: true }, (socket) => {
    const queue = []
    let busy = false
    const next = () => {
      busy = false
      if (queue.length > 0) answer(queue.shift())
    }
    const answer = (requestHead) => {
      busy = true
      if (socket.destroyed) return
      const close = requestHead.includes('\r\nconnection: close\r\n')
      const done = () => {
        if (close) socket.end()
        else next()
      }
      const path = requestHead.slice(requestHead.indexOf(' ') + 1, requestHead.indexOf(' http/1.'))
      if (requestHead.includes(limited)) {
        socket.write(head(429, 'application/json', RATE_LIMITED.length) + RATE_LIMITED)
        return done()
      }
      if (path.includes('/sse-first')) {
        socket.write(head(200, 'text/event-stream') + chunk(SSE_START))
        setTimeout(() => {
          if (!socket.destroyed) socket.write(chunk(SSE_REST) + LAST_CHUNK)
          done()
        }, 1)
        return
      }
      const bulk = /\/sse-bulk\/(\d+)/.exec(path)
      if (bulk) return streamBulk(socket, chunksFor(Number(bulk[1])), done)
      socket.write(head(200, 'application/json', MESSAGE.length) + MESSAGE)
      done()
    }
    const reader = new MessageReader(
      {
        onEnd(requestHead) {
          if (busy) queue.push(requestHead)
          else answer(requestHead)
        },
      },
      { response: false },
    )
    socket.on('data', (buf) => {
      try {
        reader.push(buf)
      } catch {
        socket.destroy()
      }
    })
    socket.on('error', () => {})
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

function streamBulk(socket, chunks, done) {
  socket.write(head(200, 'text/event-stream'))
  let sent = 0
  const write = () => {
    while (sent < chunks) {
      if (socket.destroyed) return
      sent++
      if (!socket.write(BULK_CHUNK)) return socket.once('drain', write)
    }
    socket.write(LAST_CHUNK)
    done()
  }
  write()
}
