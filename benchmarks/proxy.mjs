// One target in a process of its own (pinned to the proxy's core by run.mjs), so its CPU time and
// peak RSS are its own: node proxy.mjs '{"target", "upstream", "redisUrl", "baseline"}'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { TARGETS } from './targets.mjs'
import { serve } from './ipc.mjs'

const { target: name, upstream, redisUrl, baseline } = JSON.parse(process.argv[2])
const [base, variant] = name.split('@')
const target = TARGETS.find((t) => t.name === base)
// `<name>@baseline` runs the same target on another checkout's built packages.
const aibridge =
  variant === 'baseline'
    ? (pkg) => import(pathToFileURL(path.join(baseline, 'packages', pkg, 'dist', 'index.js')).href)
    : (pkg) => import(`@aibridge/${pkg}`)
const server = await target.start({ upstream, redisUrl, aibridge })

let mark = process.cpuUsage()
serve({
  port: () => server.port,
  // CPU is counted from the last mark, so warm-up requests are left out.
  mark: () => {
    mark = process.cpuUsage()
  },
  // The machine's speed at this moment, on this core: a fixed loop, in ms. On a shared VM it varies
  // by tens of percent from minute to minute; the run prints its spread beside the results.
  spin: () => {
    const start = process.hrtime.bigint()
    let x = 0
    for (let i = 0; i < 2e7; i++) x = (x + i * 7) & 0xffff
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, x }
  },
  report: () => {
    const used = process.cpuUsage(mark)
    return { cpuMicros: used.user + used.system, maxRssKiB: process.resourceUsage().maxRSS, rss: process.memoryUsage.rss() }
  },
  stop: async () => {
    await server.close()
    // A normal exit, so --cpu-prof writes its profile.
    setImmediate(() => process.exit(0))
  },
})
process.on('disconnect', () => process.exit(0))
