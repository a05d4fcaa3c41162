import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * Calls `onEnd` once, when the exchange of `req` and `res` is over however its connection ended:
 * the response closed (sent, or its connection lost), or the connection closed while the response
 * was still queued behind a pipelined predecessor (RFC 9112 §9.3.2).
 *
 * Node emits 'close' on a response only through the socket it holds. A pipelined response waits
 * without one until the responses before it are sent; when the client hangs up first it never gets
 * one, so its 'close' never comes. The request is no help: its 'close' fires as soon as its body has
 * been read, connection or not. The connection's own 'close' is the one signal left.
 */
export function onRequestEnd(req: IncomingMessage, res: ServerResponse, onEnd: () => void): void {
  // A response double (Fastify's inject()) may sit on a stand-in socket that never closes: its
  // response's 'close' then ends the exchange as usual.
  const socket = req.socket as IncomingMessage['socket'] | null | undefined
  let ended = false
  const end = (): void => {
    if (ended) return
    ended = true
    res.off('close', end)
    // A keep-alive connection serves many requests: each one's listener goes when it ends.
    socket?.off('close', connectionClosed)
    onEnd()
  }
  const connectionClosed = (): void => {
    // Marked gone like a response that held the socket, so nobody writes an answer into its queue.
    if (!res.socket && !res.writableFinished) res.destroy()
    end()
  }
  res.once('close', end)
  if (!socket) return
  // Closed before the exchange got here (a slow host middleware ran first): no 'close' will come.
  if (socket.destroyed) process.nextTick(connectionClosed)
  else socket.once('close', connectionClosed)
}
