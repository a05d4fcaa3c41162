// One target in a process of its own (pinned to the proxy's core by run.mjs), so its CPU time and
// peak RSS are its own: node proxy.mjs <target> <upstream origin> [redis url]
import { TARGETS } from './targets.mjs'
import { serve } from './ipc.mjs'

const [name, upstream, redisUrl] = process.argv.slice(2)
const target = TARGETS.find((t) => t.name === name)
const server = await target.start({ upstream, redisUrl })

let mark = process.cpuUsage()
serve({
  port: () => server.port,
  // CPU is counted from the last mark, so warm-up requests are left out.
  mark: () => {
    mark = process.cpuUsage()
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
