// The driver process: the mock provider and the load side, together on the core the proxy does not use.
import { bulkBytes, startMockProvider } from './mock-provider.mjs'
import { closedLoop, firstEvent, messagesBody, postBytes, slowRead } from './load.mjs'
import { serve } from './ipc.mjs'

const [rateLimitedKey] = process.argv.slice(2)
const provider = await startMockProvider({ rateLimitedKey })
const BODY = messagesBody(2048)

// Each answer carries the driver's own CPU use, so a saturated load side shows in the results.
async function measured(run) {
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const result = await run()
  const used = process.cpuUsage(cpu)
  return { ...result, driverCpu: (used.user + used.system) / 1000 / (performance.now() - t0) }
}

serve({
  provider: () => provider.address().port,
  load: (a) => measured(() => closedLoop({ ...a, bytes: postBytes(a.port, a.path, BODY) })),
  firstEvent: (a) => firstEvent({ ...a, bytes: postBytes(a.port, a.path, BODY) }),
  slowRead: (a) => measured(() => slowRead({ ...a, bytes: postBytes(a.port, a.path, BODY), expectBytes: bulkBytes(a.mib) })),
  stop: () => {
    setImmediate(() => process.exit(0))
  },
})
process.on('disconnect', () => process.exit(0))
