// One connection over a raw socket: writes the given fragments (a moment apart), reads the responses
// that come back, pipelined ones included, and leaves early when told to. HTTP/1.1 response framing
// (RFC 9112 section 6.3): no body for HEAD, 1xx, 204 and 304; chunked; Content-Length; else until close.
import net from 'node:net'

const HEAD_END = Buffer.from('\r\n\r\n')
const MISPLACED_INTERIM = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n')

/**
 * Parses one response from `buf`. Returns null when more bytes are needed (and the connection is still
 * open), { interim, consumed } for a 1xx, else { response, consumed }. `closed`: no more bytes will come.
 */
function parseOne(buf, method, closed) {
  const headEnd = buf.indexOf(HEAD_END)
  if (headEnd === -1) return closed && buf.length > 0 ? { response: { error: 'incomplete head', complete: false }, consumed: buf.length } : null
  const lines = buf.toString('latin1', 0, headEnd).split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0])
  if (!m) return { response: { error: `bad status line ${JSON.stringify(lines[0].slice(0, 60))}`, complete: false }, consumed: buf.length }
  const status = Number(m[1])
  const headers = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  let start = headEnd + 4
  if (status >= 100 && status < 200) return { interim: true, consumed: start }
  // A HEAD answer has no body, unless it is no answer to the HEAD at all: a server's reply to a request
  // its parser refused, written straight to the socket (no Date header), comes whole (Fastify's has a body).
  const refusal = headers.date === undefined && method === 'HEAD'
  // Node's misplaced interim response (see fuzz.mjs): skipped, and flagged, so the responses after it on
  // the connection are still read where they start. Only where a body must follow: after a bodyless
  // answer, a 100 Continue is the next answer's own.
  const bodyFollows = (method !== 'HEAD' || refusal) && status !== 204 && status !== 304 && (/chunked/i.test(headers['transfer-encoding'] ?? '') || Number(headers['content-length']) > 0)
  const misplaced = bodyFollows && buf.subarray(start, start + MISPLACED_INTERIM.length).equals(MISPLACED_INTERIM)
  if (misplaced) start += MISPLACED_INTERIM.length
  else if (bodyFollows && !closed && MISPLACED_INTERIM.subarray(0, buf.length - start).equals(buf.subarray(start))) return null
  const done = (body, consumed, complete = true) => ({ response: { status, headers, body, complete, misplacedInterim: misplaced }, consumed })
  if ((method === 'HEAD' && !refusal) || status === 204 || status === 304) return done(Buffer.alloc(0), start)
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = []
    let pos = start
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos)
      if (lineEnd === -1) return closed ? done(Buffer.concat(parts), buf.length, false) : null
      const size = parseInt(buf.toString('latin1', pos, lineEnd).split(';')[0], 16)
      if (Number.isNaN(size)) return { response: { status, headers, error: 'bad chunk size', complete: false }, consumed: buf.length }
      if (size === 0) {
        const end = buf.indexOf(HEAD_END, lineEnd)
        if (end === -1) return closed ? done(Buffer.concat(parts), buf.length, false) : null
        return done(Buffer.concat(parts), end + 4)
      }
      if (lineEnd + 2 + size + 2 > buf.length) {
        if (!closed) return null
        parts.push(buf.subarray(lineEnd + 2, Math.min(buf.length, lineEnd + 2 + size)))
        return done(Buffer.concat(parts), buf.length, false)
      }
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size))
      pos = lineEnd + 2 + size + 2
    }
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length'])
    if (start + length <= buf.length) return done(buf.subarray(start, start + length), start + length)
    return closed ? done(buf.subarray(start), buf.length, false) : null
  }
  return closed ? done(buf.subarray(start), buf.length) : null
}

/**
 * Sends `pieces` on a new connection to `port` and collects up to `methods.length` responses.
 * `leave`: { at: 'never' | 'after-write' (ms) | 'mid-response' (bytes) | 'mid-head' | 'mid-body' }; the
 * last two are already in `pieces` (cut short), the client then closes at once.
 * Resolves with { responses, ending: 'all' | 'server-closed' | 'client-left' | 'timeout', raw } (`raw`: every byte received).
 */
export function exchange(port, { pieces, methods, leave, deadlineMs }) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    const responses = []
    let buf = Buffer.alloc(0)
    let received = 0
    const raw = []
    let ending
    let settled = false
    const finish = () => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      parse(true)
      resolve({ responses, ending: ending ?? 'server-closed', raw: Buffer.concat(raw) })
    }
    const parse = (closed) => {
      while (responses.length < methods.length) {
        const r = parseOne(buf, methods[responses.length], closed)
        if (!r) return
        buf = buf.subarray(r.consumed)
        if (r.interim) continue
        responses.push(r.response)
        if (closed && buf.length === 0) return
      }
    }
    const leaveNow = (why) => {
      ending ??= why
      socket.destroy()
    }
    const deadline = setTimeout(() => leaveNow('timeout'), deadlineMs)
    socket.on('data', (d) => {
      received += d.length
      raw.push(d)
      buf = buf.length === 0 ? d : Buffer.concat([buf, d])
      parse(false)
      if (responses.length === methods.length) leaveNow('all')
      else if (leave.at === 'mid-response' && received >= leave.bytes) leaveNow('client-left')
    })
    socket.on('error', () => {})
    socket.on('close', finish)
    socket.once('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return
        socket.write(piece)
        await new Promise((r) => setImmediate(r))
      }
      if (leave.at === 'mid-head' || leave.at === 'mid-body') leaveNow('client-left')
      else if (leave.at === 'after-write') setTimeout(() => leaveNow('client-left'), leave.ms)
    })
  })
}
