// `pnpm fuzz [--requests N] [--seed S] [--concurrency C] [--mounts node,express,koa,fastify]`: the live
// fuzz run on the built packages (test/fuzz/fuzz.mjs says what it checks). Prints a summary; exits 1 on
// any failure.
import { parseArgs } from 'node:util'
import { runFuzz } from './fuzz.mjs'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    concurrency: { type: 'string', default: '16' },
    mounts: { type: 'string' },
  },
})
const requests = Number(values.requests)
let shown = 0
const summary = await runFuzz({
  requests,
  seed: Number(values.seed),
  concurrency: Number(values.concurrency),
  mounts: values.mounts?.split(','),
  onProgress(n) {
    if (n - shown >= requests / 10) {
      shown = n
      console.error(`  ${n} requests, rss ${Math.round(process.memoryUsage().rss / 1048576)} MB`)
    }
  },
})
const { failures, ...rest } = summary
console.log(`aibridge fuzz: ${summary.requests} requests in ${summary.connections} connections, ${(summary.durationMs / 1000).toFixed(1)} s, seed ${summary.seed}, node ${process.version}`)
console.log(JSON.stringify(rest, null, 2))
console.log(`failures: ${failures.total}${failures.total ? ' ' + JSON.stringify(failures.byKind) : ''}`)
for (const s of failures.samples) console.log(JSON.stringify(s))
process.exit(failures.total === 0 ? 0 : 1)
