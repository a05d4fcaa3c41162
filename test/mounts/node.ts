import http from 'node:http'
import { closeServer, listen } from '../support/http.js'
import type { Mount } from './types.js'

/** The plain `node:http` handler: `bridge.handle(req, res, next)` with the prefix stripped by hand. */
export const nodeMount: Mount = {
  name: 'node',
  async start(bridge, { prefix }) {
    const server = http.createServer((req, res) => {
      const url = req.url ?? '/'
      const ping = `${prefix ?? ''}/_host/ping`
      const hostRoute = (): void => {
        if (req.method === 'GET' && url.split('?')[0] === ping) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ host: 'node' }))
        } else {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('host 404')
        }
      }
      if (prefix !== null && url !== prefix && !url.startsWith(prefix + '/') && !url.startsWith(prefix + '?')) return hostRoute()
      const path = prefix === null ? url : url.slice(prefix.length) || '/'
      void bridge.handle(req, res, { path, next: hostRoute })
    })
    return { baseURL: `${await listen(server)}${prefix ?? ''}`, close: () => closeServer(server) }
  },
}
