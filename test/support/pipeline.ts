/** HTTP/1.1 pipelining from a raw socket: several requests in one write, before any answer. */
import { connect, type Socket } from 'node:net'

/** One POST with a JSON body, byte for byte as a pipelining client writes it. */
export function postBytes(path: string, body = '{"model":"x","messages":[]}'): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

export interface PipelinedClient {
  socket: Socket
  /** Everything the server sent so far, as text. */
  received(): string
  /** The status codes of the response heads received so far, in order. */
  statuses(): number[]
  /** The client hangs up: the connection is destroyed from its side. */
  hangUp(): void
  /** Resolves once the connection has closed, from either side. */
  closed: Promise<void>
}

/** Connects to `base` (`http://127.0.0.1:PORT`) and writes `bytes` in one write. */
export async function pipelined(base: string, bytes: string): Promise<PipelinedClient> {
  const { hostname, port } = new URL(base)
  const socket = connect(Number(port), hostname)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  let text = ''
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')))
  // A reset after the hang-up (or a server cutting the connection) is what some tests expect.
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.write(bytes)
  return {
    socket,
    received: () => text,
    statuses: () => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])),
    hangUp: () => socket.destroy(),
    closed,
  }
}
