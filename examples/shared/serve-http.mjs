// Serving a node:http request handler (an Express app, a Koa app's callback) for an example.
import http from 'node:http'

/**
 * Listens with `handler` on `port` and `host`, and resolves with `{ port, bridge, close }`: close()
 * ends open connections (streams included), then closes `bridge`. If listening fails, `bridge` is
 * closed and the error thrown.
 */
export async function serveHttp(handler, { port, host, bridge }) {
  const server = http.createServer(handler)
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await bridge.close()
    throw err
  }
  return {
    port: server.address().port,
    bridge,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve))
      server.closeAllConnections()
      await closed
      await bridge.close()
    },
  }
}
