// aibridge against the floor (a bare undici Pool.dispatch proxy) and the proxies users would pick
// instead, in one run. Each target runs in a process of its own on one core; the mock provider and the
// load generator share the other (taskset where present). Targets run in alternating order for
// --rounds rounds; medians are printed. Prints numbers and never judges them: the exit code says only
// whether every target served its requests. See README.md for targets, flags and how to read the ratios.
// Usage: pnpm bench [-- flags]   (after pnpm build: node benchmarks/run.mjs [flags]); --help lists the flags.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { caller, spawnNode } from './ipc.mjs'
import { RATE_LIMITED_KEY, TARGETS } from './targets.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const SSE_FIRST = 'sse-first'
const SSE_RSS = 'sse-rss'
// The two SSE measurements compare the floor with bridge.handle (and its baseline twin).
const SSE_TARGETS = ['floor', 'bridge', 'bridge@baseline']

const FLAGS = {
  seconds: { type: 'string', help: 'measured seconds per target and round', default: '5', smoke: '2' },
  warmup: { type: 'string', help: 'warm-up seconds per target before measuring', default: '1', smoke: '0.25' },
  rounds: { type: 'string', help: 'rounds, alternating the order of targets; medians are reported', default: '3', smoke: '1' },
  connections: { type: 'string', help: 'connections of the closed-loop load', default: '50' },
  only: { type: 'string', help: `comma-separated targets to run (names below, plus ${SSE_FIRST} and ${SSE_RSS})` },
  'sse-requests': { type: 'string', help: 'sequential SSE requests timed to their first event, per target and round', default: '2000', smoke: '50' },
  'sse-mib': { type: 'string', help: 'MiB streamed to the slow reader for the peak-RSS measurement', default: '512', smoke: '16' },
  'sse-rate': { type: 'string', help: 'the slow reader, MiB/s', default: '64' },
  smoke: { type: 'boolean', help: 'a quick run of every target for CI: checks that the harness works, not timings' },
  'cpu-prof': { type: 'boolean', help: 'run each proxy process with --cpu-prof and print where the profiles are' },
  'cpu-prof-dir': { type: 'string', help: 'folder for --cpu-prof (default: a new folder under the OS temp dir)' },
  'node-args': { type: 'string', help: "more flags for every proxy process, space-separated, given with = (--node-args=--trace-gc-nvp: what each collection promoted)" },
  interleave: {
    type: 'string',
    help: 'ms: run a round\'s targets side by side (all started at once on the proxy core), the load moving from one to the next every <ms>, so a slow spell of the machine falls on all of them alike',
  },
  alone: { type: 'boolean', help: 'add node:http, Express and Koa alone (a fixed answer, no upstream), and bridge.handle behind an Express-style prototype swap: what each framework costs by itself' },
  mounted: { type: 'boolean', help: "add the Express pair under a mount path (aibridge at app.use('/ai', ...), http-proxy-middleware at '/ai/anthropic')" },
  redis: { type: 'boolean', help: 'add aibridge + redisStore (needs @aibridge/redis importable and a Redis server)' },
  'redis-url': { type: 'string', help: 'Redis for --redis (default $REDIS_URL or redis://127.0.0.1:6379)' },
  baseline: { type: 'string', help: 'a checkout of aibridge, installed and built: each aibridge target also runs on its packages, as <name>@baseline' },
  json: { type: 'string', help: 'also write every round\'s results to this file as JSON' },
  unpinned: { type: 'boolean', help: 'do not pin processes to cores' },
  help: { type: 'boolean', help: 'this text' },
}

const { values: flags } = parseArgs({ options: Object.fromEntries(Object.entries(FLAGS).map(([k, v]) => [k, { type: v.type }])) })
const opt = (name) => flags[name] ?? (flags.smoke ? FLAGS[name].smoke : undefined) ?? FLAGS[name].default
const num = (name) => {
  const n = Number(opt(name))
  if (!(n > 0)) fail(`--${name} must be a positive number, got ${opt(name)}`)
  return n
}

function fail(message) {
  console.error(`bench: ${message}`)
  process.exit(2)
}

if (flags.help) {
  console.log('node benchmarks/run.mjs [flags]   (pnpm bench [flags] builds first)\n')
  for (const [name, f] of Object.entries(FLAGS)) {
    const arg = f.type === 'string' ? ' <value>' : ''
    const def = f.default ? ` (default ${f.default}${f.smoke ? `, --smoke ${f.smoke}` : ''})` : ''
    console.log(`  --${name}${arg}`.padEnd(26) + f.help + def)
  }
  console.log(`\ntargets: ${TARGETS.map((t) => t.name).join(', ')}, ${SSE_FIRST}, ${SSE_RSS}`)
  process.exit(0)
}

const SECONDS = num('seconds')
const INTERLEAVE = flags.interleave === undefined ? 0 : num('interleave')
const WARMUP = Number(opt('warmup'))
const ROUNDS = Math.round(num('rounds'))
const CONNECTIONS = Math.round(num('connections'))
const SSE_REQUESTS = Math.round(num('sse-requests'))
const SSE_MIB = num('sse-mib')
const SSE_RATE = num('sse-rate')
const REDIS_URL = flags['redis-url'] ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

// Which targets and SSE measurements run.
const only = flags.only?.split(',').map((s) => s.trim()).filter(Boolean)
const known = new Set([...TARGETS.map((t) => t.name), SSE_FIRST, SSE_RSS])
for (const name of only ?? []) if (!known.has(name)) fail(`--only: no target "${name}" (try --help)`)
const wanted = (name) => (only ? only.includes(name) : true)
let targets = TARGETS.filter((t) => (only ? only.includes(t.name) : !t.optIn || flags[t.optIn]))
const BASELINE = flags.baseline && path.resolve(flags.baseline)
if (BASELINE) {
  if (!existsSync(path.join(BASELINE, 'packages', 'core', 'dist', 'index.js'))) fail(`--baseline: no built packages in ${BASELINE} (run pnpm install && pnpm build there)`)
  // Each twin runs right after its original, so alternation treats both alike.
  targets = targets.flatMap((t) =>
    t.name.startsWith('bridge') && !t.noBaseline ? [t, { ...t, name: `${t.name}@baseline`, label: `${t.label} [baseline]` }] : [t],
  )
}
if (targets.some((t) => t.name === 'bridge-redis')) {
  const why = await redisMissing()
  if (why) {
    console.log(`skipping bridge-redis: ${why}`)
    targets = targets.filter((t) => t.name !== 'bridge-redis')
  }
}
const runFirstEvent = wanted(SSE_FIRST)
const runRss = wanted(SSE_RSS)
if (targets.length === 0 && !runFirstEvent && !runRss) fail('nothing to run')

/** Why the redis target cannot run, or undefined. A store that cannot reach Redis would serve from its local copy and measure nothing of Redis. */
async function redisMissing() {
  try {
    await import('@aibridge/redis')
  } catch (err) {
    return `@aibridge/redis cannot be imported (${err.code ?? err.message}); add it to benchmarks/package.json once it exists`
  }
  const { hostname, port } = new URL(REDIS_URL)
  const reached = await new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) || 6379, timeout: 2000 })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
    socket.once('timeout', () => done(false))
  })
  return reached ? undefined : `no Redis at ${hostname}:${port || 6379} (--redis-url)`
}

/** Two allowed CPUs and taskset: the proxy gets the first, the mock provider and the load the second. */
function cpuPlan() {
  if (flags.unpinned) return { note: 'not pinned (--unpinned)' }
  const probe = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) return { note: 'not pinned (no taskset): proxy, mock provider and load share all cores' }
  const cpus = probe.stdout
    .slice(probe.stdout.lastIndexOf(':') + 1)
    .trim()
    .split(',')
    .flatMap((part) => {
      const [a, b = a] = part.split('-').map(Number)
      return Array.from({ length: b - a + 1 }, (_, i) => a + i)
    })
  if (cpus.length < 2) return { note: `not pinned: only CPU ${cpus.join(',')} is available` }
  return { proxy: cpus[0], driver: cpus[1], note: `proxy on CPU ${cpus[0]}; mock provider and load on CPU ${cpus[1]} (taskset)` }
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: HERE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

const plan = cpuPlan()
const profDir = flags['cpu-prof'] ? path.resolve(flags['cpu-prof-dir'] ?? path.join(os.tmpdir(), `aibridge-bench-${new Date().toISOString().replace(/[:.]/g, '-')}`)) : undefined
if (profDir) mkdirSync(profDir, { recursive: true })

const withTimeout = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms).unref())])

const exited = (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)))

async function stopChild(child, ipc) {
  ipc.call('stop').catch(() => {})
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited(child)
  clearTimeout(timer)
}

// The driver: mock provider and load generator, alive for the whole run.
const driverProcess = spawnNode(path.join(HERE, 'driver.mjs'), { args: [RATE_LIMITED_KEY], cpu: plan.driver })
const driver = caller(driverProcess)
await withTimeout(driver.ready, 30_000, 'driver start')
const upstreamPort = await driver.call('provider')
const upstream = `http://127.0.0.1:${upstreamPort}`

/** Starts `target` in a proxy process; resolves to { port, call, stop }. */
async function startProxy(target, profName) {
  const execArgv = [
    ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${profName}.cpuprofile`] : []),
    ...(flags['node-args']?.split(/\s+/).filter(Boolean) ?? []),
  ]
  const args = [JSON.stringify({ target: target.name, upstream, redisUrl: REDIS_URL, baseline: BASELINE })]
  const child = spawnNode(path.join(HERE, 'proxy.mjs'), { args, execArgv, cpu: plan.proxy })
  const ipc = caller(child)
  try {
    await withTimeout(ipc.ready, 30_000, `${target.name} start`)
    return { port: await ipc.call('port'), call: ipc.call, stop: () => stopChild(child, ipc) }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

const failures = []
const loadRuns = new Map(targets.map((t) => [t.name, []]))
const firstRuns = new Map()
const rssRuns = new Map()
const push = (map, name, value) => map.set(name, [...(map.get(name) ?? []), value])

async function measureLoad(target, round) {
  const urlPath = target.path ?? '/anthropic/v1/messages'
  const load = (port, seconds) =>
    withTimeout(driver.call('load', { port, path: urlPath, connections: CONNECTIONS, seconds }), seconds * 1000 + 30_000, `${target.name} load`)
  if (!target.start) return { ...(await load(upstreamPort, SECONDS)), cpuPerRequest: undefined }
  const proxy = await startProxy(target, `${target.name}-load-r${round}`)
  try {
    if (WARMUP > 0) await load(proxy.port, WARMUP)
    const { ms: spinMs } = await proxy.call('spin')
    await proxy.call('mark')
    const result = await load(proxy.port, SECONDS)
    const { cpuMicros } = await proxy.call('report')
    return { ...result, spinMs, cpuPerRequest: result.completed > 0 ? cpuMicros / result.completed : undefined }
  } finally {
    await proxy.stop()
  }
}

/**
 * --interleave: every target of the round at once (idle processes cost no CPU), the load moving from
 * one to the next every INTERLEAVE ms for SECONDS in all per target. A shared VM's speed drifts over
 * seconds; slices this short give every target the same mix of fast and slow moments. p50/p99 are the
 * medians of the slices' own.
 */
async function measureInterleaved(order, round) {
  const sliceSeconds = INTERLEAVE / 1000
  const load = (target, port, seconds) =>
    withTimeout(driver.call('load', { port, path: target.path ?? '/anthropic/v1/messages', connections: CONNECTIONS, seconds }), seconds * 1000 + 30_000, `${target.name} load`)
  const running = []
  try {
    for (const target of order) {
      const proxy = target.start ? await attempt(target.name, 'start', () => startProxy(target, `${target.name}-load-r${round}`)) : undefined
      if (target.start && !proxy) continue
      running.push({ target, proxy, port: proxy ? proxy.port : upstreamPort, done: 0, completed: 0, errors: 0, statuses: {}, p50: [], p99: [], driverCpu: [] })
    }
    for (const r of running) {
      if (WARMUP > 0) await load(r.target, r.port, WARMUP)
      if (r.proxy) {
        r.spinMs = (await r.proxy.call('spin')).ms
        await r.proxy.call('mark')
      }
    }
    const slices = Math.max(1, Math.round(SECONDS / sliceSeconds))
    for (let i = 0; i < slices; i++) {
      for (const r of running) {
        const got = await load(r.target, r.port, sliceSeconds)
        r.done += got.rps * sliceSeconds
        r.completed += got.completed
        r.errors += got.errors
        for (const [status, n] of Object.entries(got.statuses)) r.statuses[status] = (r.statuses[status] ?? 0) + n
        r.p50.push(got.p50)
        r.p99.push(got.p99)
        r.driverCpu.push(got.driverCpu)
      }
    }
    const results = []
    for (const r of running) {
      const cpuMicros = r.proxy ? (await r.proxy.call('report')).cpuMicros : undefined
      results.push({
        target: r.target,
        result: {
          rps: r.done / (slices * sliceSeconds),
          completed: r.completed,
          errors: r.errors,
          statuses: r.statuses,
          p50: median(r.p50),
          p99: median(r.p99),
          driverCpu: median(r.driverCpu),
          spinMs: r.spinMs,
          cpuPerRequest: cpuMicros !== undefined && r.completed > 0 ? cpuMicros / r.completed : undefined,
        },
      })
    }
    return results
  } finally {
    await Promise.all(running.map((r) => r.proxy?.stop()))
  }
}

async function measureFirstEvent(target, round) {
  const ask = (port, count) =>
    withTimeout(driver.call('firstEvent', { port, path: '/anthropic/v1/sse-first', count }), count * 100 + 30_000, `${target.name} first event`)
  const proxy = await startProxy(target, `${target.name}-first-event-r${round}`)
  try {
    await ask(proxy.port, Math.min(200, SSE_REQUESTS))
    return await ask(proxy.port, SSE_REQUESTS)
  } finally {
    await proxy.stop()
  }
}

async function measureRss(target, round) {
  // A fresh process, so its peak RSS is this stream's.
  const proxy = await startProxy(target, `${target.name}-rss-r${round}`)
  try {
    const before = await proxy.call('report')
    const read = await withTimeout(
      driver.call('slowRead', { port: proxy.port, path: `/anthropic/v1/sse-bulk/${SSE_MIB}`, mibPerSecond: SSE_RATE, mib: SSE_MIB }),
      (SSE_MIB / SSE_RATE) * 3000 + 30_000,
      `${target.name} slow reader`,
    )
    const after = await proxy.call('report')
    return { ...read, startMiB: before.rss / 2 ** 20, peakMiB: after.maxRssKiB / 1024 }
  } finally {
    await proxy.stop()
  }
}

async function attempt(name, what, run) {
  try {
    return await run()
  } catch (err) {
    failures.push(`${name} (${what}): ${err.message.split('\n')[0]}`)
    return undefined
  }
}

const sseTargets = SSE_TARGETS.filter((name) => BASELINE || !name.endsWith('@baseline')).map((name) => {
  const [base, variant] = name.split('@')
  return { ...TARGETS.find((t) => t.name === base), name: variant ? name : base }
})
const commit = gitCommit()
console.log(
  `aibridge benchmark: node ${process.version}, ${os.availableParallelism()} CPUs, ${plan.note}\n` +
    `${CONNECTIONS} connections, 2 KiB JSON POST, closed loop, ${SECONDS} s per target (+${WARMUP} s warm-up), ` +
    `${ROUNDS} round${ROUNDS > 1 ? 's' : ''} in alternating order, medians${INTERLEAVE ? `; targets interleaved in ${INTERLEAVE} ms slices` : ''}; commit ${commit}` +
    `${BASELINE ? `; baseline ${BASELINE}` : ''}${flags.smoke ? '; SMOKE: checks the harness, timings mean nothing' : ''}\n`,
)

for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 === 1 ? targets : [...targets].reverse()
  const pair = round % 2 === 1 ? sseTargets : [...sseTargets].reverse()
  const measured = INTERLEAVE
    ? ((await attempt('interleaved', 'load', () => measureInterleaved(order, round))) ?? [])
    : order.map((target) => ({ target }))
  for (const { target, result } of measured) {
    const r = result ?? (await attempt(target.name, 'load', () => measureLoad(target, round)))
    if (!r) continue
    loadRuns.get(target.name).push(r)
    if (r.completed === 0 || r.errors > 0) failures.push(`${target.name}: ${r.errors} errors in ${r.completed} answers (statuses ${JSON.stringify(r.statuses)})`)
    process.stdout.write(`round ${round}/${ROUNDS}  ${target.name.padEnd(26)} ${fmt(r.rps, 0).padStart(7)} req/s\n`)
  }
  if (runFirstEvent)
    for (const target of pair) {
      const r = await attempt(target.name, SSE_FIRST, () => measureFirstEvent(target, round))
      if (!r) continue
      push(firstRuns, target.name, r)
      if (r.errors > 0 || r.count === 0) failures.push(`${target.name} (${SSE_FIRST}): ${r.errors} of ${SSE_REQUESTS} SSE requests failed`)
      process.stdout.write(`round ${round}/${ROUNDS}  ${`${target.name} ${SSE_FIRST}`.padEnd(26)} p50 ${fmt(r.p50, 3)} ms\n`)
    }
  if (runRss)
    for (const target of pair) {
      const r = await attempt(target.name, SSE_RSS, () => measureRss(target, round))
      if (!r) continue
      push(rssRuns, target.name, r)
      if (!r.ok) failures.push(`${target.name} (${SSE_RSS}): status ${r.status}, ${r.received} of the stream's bytes arrived`)
      process.stdout.write(`round ${round}/${ROUNDS}  ${`${target.name} ${SSE_RSS}`.padEnd(26)} peak ${fmt(r.peakMiB, 1)} MiB\n`)
    }
}
await stopChild(driverProcess, driver)

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const mid = v.length >> 1
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

function fmt(x, digits) {
  return Number.isFinite(x) ? x.toFixed(digits) : '-'
}

const med = (map, name, field) => median((map.get(name) ?? []).map((r) => r[field]))
const rps = (name) => med(loadRuns, name, 'rps')
const spread = (name) => {
  const all = (loadRuns.get(name) ?? []).map((r) => r.rps)
  return all.length > 1 ? ` (${fmt(Math.min(...all), 0)}–${fmt(Math.max(...all), 0)})` : ''
}

// The proxy core's speed just before each measurement (a fixed loop; lower is faster): its spread
// says how much of a spread in req/s is the machine's.
const spinSpread = (name) => {
  const all = (loadRuns.get(name) ?? []).map((r) => r.spinMs).filter(Number.isFinite)
  return all.length === 0 ? '-' : all.length === 1 ? fmt(all[0], 1) : `${fmt(median(all), 1)} (${fmt(Math.min(...all), 1)}–${fmt(Math.max(...all), 1)})`
}

console.log(`\n| target | req/s | % of floor | p50 ms | p99 ms | proxy CPU µs/req | load side CPU | spin ms |`)
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
for (const t of targets) {
  const percent = t.name === 'floor' || !Number.isFinite(rps('floor')) ? '' : `${fmt((100 * rps(t.name)) / rps('floor'), 0)}%`
  console.log(
    `| ${t.label} | ${fmt(rps(t.name), 0)}${spread(t.name)} | ${t.name === 'floor' ? '100%' : percent} | ${fmt(med(loadRuns, t.name, 'p50'), 2)} | ` +
      `${fmt(med(loadRuns, t.name, 'p99'), 2)} | ${t.start ? fmt(med(loadRuns, t.name, 'cpuPerRequest'), 0) : '-'} | ${fmt(100 * med(loadRuns, t.name, 'driverCpu'), 0)}% | ${spinSpread(t.name)} |`,
  )
}

// The ratios issue 9 names, from the medians above (ratios of medians, so a reader can check them);
// the goal column is the issue's, printed for reading, never judged.
const ratios = [
  ['bridge.handle / floor, req/s', 'bridge', 'floor', '%', '>= 85%'],
  ['Fastify plugin / @fastify/http-proxy, req/s', 'bridge-fastify', 'fastify-http-proxy', 'x', '>= 1.15x'],
  ['Express middleware / express + HPM, req/s', 'bridge-express', 'express-hpm', 'x', '>= 1.5x'],
  ["the same, both mounted under '/ai', req/s", 'bridge-express-mounted', 'express-hpm-mounted', 'x', '>= 1.5x'],
  ['Koa middleware / floor, req/s', 'bridge-koa', 'floor', '%', '>= 60%'],
  ['failover every request / floor, req/s', 'bridge-failover', 'floor', '%', '>= 45%'],
  ['bridge + redisStore / floor, req/s', 'bridge-redis', 'floor', '%', ''],
  ['records read (usage accounting on) / bridge.handle, req/s (issue 11)', 'bridge-records', 'bridge', '%', '>= 95%'],
]
// The same ratios taken round by round, then their median: each pair ran minutes apart at most, so a
// slow spell of a shared machine (see the spin column) shifts both sides of most pairs.
const pairedRatio = (a, b) => {
  const as = loadRuns.get(a) ?? []
  const bs = loadRuns.get(b) ?? []
  return median(as.map((r, i) => (bs[i] ? r.rps / bs[i].rps : NaN)))
}
// One cell per build: this tree's aibridge, and the baseline's under --baseline.
const builds = BASELINE ? ['', '@baseline'] : ['']
const rows = []
for (const [label, a, b, unit, goal] of ratios) {
  const show = (r) => (unit === '%' ? `${fmt(100 * r, 0)}%` : `${fmt(r, 2)}x`)
  const cells = builds.map((suffix) => {
    const r = rps(a + suffix) / rps(b)
    const paired = pairedRatio(a + suffix, b)
    return Number.isFinite(r) ? `${show(r)}${ROUNDS > 1 && Number.isFinite(paired) ? ` (round by round: ${show(paired)})` : ''}` : '-'
  })
  if (cells.some((c) => c !== '-')) rows.push([label, ...cells, goal])
}
if (runFirstEvent) {
  const floorP50 = med(firstRuns, 'floor', 'p50')
  const cells = builds.map((suffix) => {
    const p50 = med(firstRuns, `bridge${suffix}`, 'p50')
    return `${fmt(p50 - floorP50, 3)} ms (${fmt(p50, 3)} against ${fmt(floorP50, 3)})`
  })
  rows.push(['SSE first event p50, bridge.handle minus floor', ...cells, '<= 0.1 ms'])
}
if (runRss) {
  const floorPeak = med(rssRuns, 'floor', 'peakMiB')
  const cells = builds.map((suffix) => {
    const peak = med(rssRuns, `bridge${suffix}`, 'peakMiB')
    return `${fmt(peak - floorPeak, 1)} MiB (${fmt(peak, 1)} against ${fmt(floorPeak, 1)})`
  })
  const start = ['floor', 'bridge'].map((name) => `${name} ${fmt(med(rssRuns, name, 'startMiB'), 1)}`).join(', ')
  rows.push([`SSE peak RSS, ${SSE_MIB} MiB to a ${SSE_RATE} MiB/s reader, bridge.handle minus floor (MiB at start: ${start})`, ...cells, '<= 20 MiB'])
}
if (rows.length > 0) {
  const head = ['ratio', 'this tree', ...(BASELINE ? ['baseline'] : []), 'issue 9 goal']
  console.log(`\n| ${head.join(' | ')} |\n|${' --- |'.repeat(head.length)}\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}`)
}
if (flags.json) {
  const all = (map) => Object.fromEntries(map)
  const meta = { node: process.version, commit, baseline: BASELINE, pinning: plan.note, seconds: SECONDS, warmup: WARMUP, rounds: ROUNDS, connections: CONNECTIONS }
  writeFileSync(flags.json, JSON.stringify({ meta, load: all(loadRuns), firstEvent: all(firstRuns), rss: all(rssRuns), failures }, null, 2))
  console.log(`\nevery round's results: ${path.resolve(flags.json)}`)
}

const direct = rps('direct')
const driverBusy = Math.max(...targets.filter((t) => t.start).map((t) => med(loadRuns, t.name, 'driverCpu')))
if (Number.isFinite(direct) && rps('floor') > 0.8 * direct)
  console.log(`\nnote: the floor reaches ${fmt((100 * rps('floor')) / direct, 0)}% of direct: the load side may be the limit, which compresses the ratios.`)
else if (driverBusy > 0.9) console.log(`\nnote: the load side used ${fmt(100 * driverBusy, 0)}% of its core for a target: it may be the limit there.`)
if (profDir) console.log(`\nCPU profiles (one per proxy process): ${profDir}`)

if (failures.length > 0) {
  console.log(`\nFAILED: ${failures.length} target run${failures.length > 1 ? 's' : ''} did not serve as expected:\n  ${failures.join('\n  ')}`)
  process.exit(1)
}
if (flags.smoke) console.log(`\nsmoke: every target served its requests (timings not judged).`)
