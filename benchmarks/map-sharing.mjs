// Whether the requests behind the Express middleware really share one hidden class, process after
// process: `node benchmarks/map-sharing.mjs [processes]` (after `pnpm build`). The bridge puts `req` and
// `res` in dictionary mode, and V8 shares one dictionary-mode map per prototype and layout through its
// normalized map cache, whose entry is picked by the prototype's map. Another object normalized between
// two requests on the same entry evicts it, and from then on every request's object gets a map of its own.
// Each process serves 12 requests, one at a time, and counts it as sharing when requests 3 to 12 all share
// their `req` map and all share their `res` map. Two setups: the client in another process (a server, as
// in production and in the benchmark), and a fetch client in the same process (as in the test suite),
// whose web streams normalize objects of their own on every request.
import { spawn } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'

const REQUESTS = 12
const PATH = '/ai/anthropic/v1/messages'

if (process.argv[2] === 'child') await child(process.argv[3])
else await parent(Number(process.argv[2] ?? 30))

async function parent(processes) {
  console.log(`${processes} processes per setup, ${REQUESTS} requests each`)
  for (const setup of ['server', 'in-process-fetch']) {
    const counts = { both: 0, reqOnly: 0, resOnly: 0, neither: 0 }
    for (let i = 0; i < processes; i++) {
      const out = await run(process.execPath, ['--allow-natives-syntax', fileURLToPath(import.meta.url), 'child', setup])
      const { req, res } = JSON.parse(out)
      counts[req && res ? 'both' : req ? 'reqOnly' : res ? 'resOnly' : 'neither']++
    }
    console.log(`${setup}: req and res shared in ${counts.both}; only req in ${counts.reqOnly}; only res in ${counts.resOnly}; neither in ${counts.neither}`)
  }
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (c) => (out += c))
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited with ${code}`))))
  })
}

async function child(setup) {
  const { default: express } = await import('express')
  const { aibridge } = await import('@aibridge/express')
  const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)')
  const upstream = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"msg"}'))
  })
  const objects = []
  const app = express()
  app.use((req, res, next) => {
    objects.push({ req, res })
    next()
  })
  app.use('/ai', aibridge({ providers: { anthropic: { keys: ['sk-ant-map-sharing-0000000000'], baseURL: await listen(upstream) } } }))
  const origin = await listen(http.createServer(app))
  if (setup === 'server') await run(process.execPath, ['-e', clientScript(origin)])
  else for (let i = 0; i < REQUESTS; i++) await (await fetch(origin + PATH, { method: 'POST', body: '{}' })).arrayBuffer()
  const later = objects.slice(2)
  const all = (part) => later.every((o, i) => i === 0 || sameMap(later[i - 1][part], o[part]))
  process.stdout.write(JSON.stringify({ req: all('req'), res: all('res') }))
  process.exit(0)
}

// The client process: node:http, one keep-alive connection, one request after the other.
function clientScript(origin) {
  return `
const http = require('node:http')
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
let left = ${REQUESTS}
;(function next() {
  if (left-- === 0) return agent.destroy()
  const req = http.request(${JSON.stringify(origin + PATH)}, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': 2 } }, (res) => {
    res.resume()
    res.on('end', next)
  })
  req.end('{}')
})()`
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)))
}
