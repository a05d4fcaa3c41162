import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * Calls `done` once: when `res` closes, or when the connection closes while `res` is still queued
 * behind an earlier response on it (HTTP/1.1 pipelining). Node never emits 'close' on a queued
 * response whose connection died, so without this the exchange would stay in flight for good.
 */
export function onResponseClosed(req: IncomingMessage, res: ServerResponse, done: () => void): void {
  let called = false
  const socket = res.socket ? undefined : req.socket
  const once = (): void => {
    if (called) return
    called = true
    socket?.off('close', once)
    done()
  }
  res.once('close', once)
  if (!socket || typeof socket.once !== 'function') return
  // Once the response has the connection, its own 'close' says when it ends.
  res.once('socket', () => socket.off('close', once))
  if (socket.destroyed) process.nextTick(once)
  else socket.once('close', once)
}
