import { ServerResponse, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'

// The exchanges of each connection still waiting for their end. One 'close' listener per connection
// serves them all: a client may pipeline any number of requests in one write.
const waiting = new WeakMap<Socket, Set<() => void>>()

/** Runs `fn` when `socket` closes; returns the function that takes it back. */
function onConnectionClose(socket: Socket, fn: () => void): () => void {
  let pending = waiting.get(socket)
  if (!pending) {
    const fns = new Set<() => void>()
    pending = fns
    waiting.set(socket, fns)
    socket.once('close', () => {
      waiting.delete(socket)
      for (const f of fns) f()
    })
  }
  pending.add(fn)
  return () => void waiting.get(socket)?.delete(fn)
}

/**
 * Calls `onEnd` once, when the exchange of `req` and `res` is over however its connection ended:
 * the response closed (sent, or its connection lost), or the connection closed while the response
 * was still queued behind a pipelined predecessor (RFC 9112 §9.3.2). `finished` says whether the
 * response was sent whole (its 'finish' came).
 *
 * Node emits 'close' on a response only through the socket it holds. A pipelined response waits
 * without one until the responses before it are sent; when the client hangs up first it never gets
 * one, so its 'close' never comes. The request is no help: its 'close' fires as soon as its body has
 * been read, connection or not. The connection's own 'close' is the one signal left.
 *
 * One listener per request on a Node response: adding a listener costs microseconds on an object
 * whose prototype a framework has swapped (Express does, for every request).
 */
export function onRequestEnd(req: IncomingMessage, res: ServerResponse, onEnd: (finished: boolean) => void): void {
  let ended = false
  let forget: (() => void) | undefined
  // A Node response says at 'close' whether it finished; a double such as Fastify's inject()
  // (light-my-request) emits 'finish' but keeps `writableFinished` false, so it is listened to.
  let finishSeen = false
  if (res.constructor !== ServerResponse) res.once('finish', () => (finishSeen = true))
  const end = (): void => {
    if (ended) return
    ended = true
    forget?.()
    onEnd(finishSeen || res.writableFinished)
  }
  res.on('close', end)
  // The response holds the connection (the common case, no pipelining): its 'close' comes however the
  // connection ends, and nothing more per request is needed.
  if (res.socket && !res.socket.destroyed) return
  // A response double (Fastify's inject()) may sit on a stand-in socket that never closes: its
  // response's 'close' then ends the exchange as usual.
  const socket = req.socket as Socket | null | undefined
  if (!socket) return
  const connectionClosed = (): void => {
    res.off('close', end)
    // Marked gone like a response that held the socket, so nobody writes an answer into its queue.
    if (!res.socket && !res.writableFinished) res.destroy()
    end()
  }
  // Closed before the exchange got here (a slow host middleware ran first): no 'close' will come.
  if (socket.destroyed) process.nextTick(connectionClosed)
  else forget = onConnectionClose(socket, connectionClosed)
}
