// Just enough HTTP/1.1 framing (RFC 9112 §6) for the benchmark's mock provider and load generator:
// find a message's head, then its body by Content-Length, chunked coding or connection close.
// node:http costs about as much CPU per request as the proxy floor itself, and the mock and the load
// share one core, so with node:http on that side it, not the proxy, would set the ceiling.
const HEAD_END = Buffer.from('\r\n\r\n')
const CRLF = Buffer.from('\r\n')

const HEAD = 0
const LENGTH = 1
const CHUNK_SIZE = 2
const CHUNK_DATA = 3
const CHUNK_END = 4
const TRAILERS = 5
const UNTIL_CLOSE = 6

/** The value of header `name` (lower case) in a lower-cased head, or undefined. */
export function headerValue(head, name) {
  const at = head.indexOf(`\r\n${name}:`)
  if (at === -1) return undefined
  const start = at + name.length + 3
  const end = head.indexOf('\r\n', start)
  return head.slice(start, end === -1 ? head.length : end).trim()
}

/** The status code of a lower-cased response head. */
export function statusOf(head) {
  return Number(head.slice(9, 12))
}

/**
 * Reads a byte stream of HTTP/1.1 messages. `handlers.onHead(head)` gets each head as a lower-cased
 * latin1 string (start line and headers, each line ending in CRLF), `onData(chunk)` the decoded body
 * bytes, `onEnd(head)` the end of the message. `response` makes it read responses (a 1xx head is
 * skipped; a body without framing runs to the connection's close, see `close()`).
 */
export class MessageReader {
  #handlers
  #response
  #state = HEAD
  #remaining = 0
  #pending = null
  #head = ''

  constructor(handlers, { response }) {
    this.#handlers = handlers
    this.#response = response
  }

  /** True between a head and the end of its body. */
  get inBody() {
    return this.#state !== HEAD
  }

  push(buf) {
    if (this.#pending !== null) {
      buf = Buffer.concat([this.#pending, buf])
      this.#pending = null
    }
    let i = 0
    while (i < buf.length) {
      switch (this.#state) {
        case HEAD: {
          const end = buf.indexOf(HEAD_END, i)
          if (end === -1) return this.#keep(buf, i)
          const head = buf.latin1Slice(i, end + 2).toLowerCase()
          i = end + 4
          this.#startBody(head)
          break
        }
        case LENGTH:
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, buf.length - i)
          this.#handlers.onData?.(buf.subarray(i, i + n))
          this.#remaining -= n
          i += n
          if (this.#remaining > 0) break
          if (this.#state === LENGTH) this.#end()
          else {
            this.#state = CHUNK_END
            this.#remaining = 2
          }
          break
        }
        case CHUNK_END: {
          const n = Math.min(this.#remaining, buf.length - i)
          this.#remaining -= n
          i += n
          if (this.#remaining === 0) this.#state = CHUNK_SIZE
          break
        }
        case CHUNK_SIZE: {
          const eol = buf.indexOf(CRLF, i)
          if (eol === -1) return this.#keep(buf, i)
          // parseInt stops at a chunk extension (";name=value").
          const size = Number.parseInt(buf.latin1Slice(i, eol), 16)
          i = eol + 2
          if (!(size >= 0)) throw new Error('bad chunk size')
          if (size === 0) this.#state = TRAILERS
          else {
            this.#state = CHUNK_DATA
            this.#remaining = size
          }
          break
        }
        case TRAILERS: {
          const eol = buf.indexOf(CRLF, i)
          if (eol === -1) return this.#keep(buf, i)
          if (eol === i) this.#end()
          i = eol + 2
          break
        }
        case UNTIL_CLOSE:
          this.#handlers.onData?.(buf.subarray(i))
          i = buf.length
          break
      }
    }
  }

  /** The connection closed: ends a body that runs to the close; true when no message was cut short. */
  close() {
    if (this.#state === UNTIL_CLOSE) this.#end()
    return this.#state === HEAD && this.#pending === null
  }

  #keep(buf, i) {
    this.#pending = buf.subarray(i)
  }

  #startBody(head) {
    this.#head = head
    if (this.#response) {
      const status = statusOf(head)
      if (status < 200) return // 1xx: the real head follows
      this.#handlers.onHead?.(head)
      if (status === 204 || status === 304) return this.#end()
    } else this.#handlers.onHead?.(head)
    if (headerValue(head, 'transfer-encoding')?.endsWith('chunked')) {
      this.#state = CHUNK_SIZE
      return
    }
    const length = headerValue(head, 'content-length')
    if (length !== undefined) {
      this.#remaining = Number(length)
      this.#state = LENGTH
      if (this.#remaining === 0) this.#end()
      return
    }
    if (this.#response) this.#state = UNTIL_CLOSE
    else this.#end()
  }

  #end() {
    this.#state = HEAD
    this.#handlers.onEnd?.(this.#head)
  }
}
