// `pnpm soak [--seconds N] [--clients C] [--phase-seconds P]`: the soak, on the built packages.
// Four keys with rotating faults (test/soak/faults.mjs) behind the simulator; a bridge on each of the
// four mounts (node, Express, Koa, Fastify); C clients (200) at once mixing JSON, SSE and early aborts;
// then, still under load, every key reset (resetKey) and every bridge closed (close()). It prints a
// summary and CHECKS, exiting 1 when one fails:
//   1. no request failed while a usable key existed: no client saw an exhaustion answer or a key's
//      fault (a 429, 401, 403, quota, or such an error as a stream's event), and every failure a
//      client did see (a 500, a cut or stalled stream) came from a fault the simulator was told to make;
//   2. every record matches what its client saw (ledger.mjs), one record per request that reached a bridge;
//   3. RSS and open handles return to baseline: the handles (process.getActiveResourcesInfo, stdio
//      aside) are the ones there were before anything started, within 5 s of the end; heap used after GC is within
//      32 MiB of the baseline and RSS within 96 MiB (V8 keeps some pages it grew into; a leak of the
//      run's size, ~1 KiB a request, goes well past both on a 60 s run);
//   4. zero key-leak hits (no 9 consecutive characters of a pool key or the BYOK client key in any
//      response, record or log line).
// CI runs `pnpm soak --seconds 60`.
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { createBridge, maskKey } from '@aibridge/core'
import { startSimulator } from '@aibridge/simulator'
import { LeakScanner, scanningLogger } from '../support/leaks.mjs'
import { MOUNTS } from '../support/mounts.mjs'
import { oneRequest } from './clients.mjs'
import { phase, supportedFaults } from './faults.mjs'
import { Ledger } from './ledger.mjs'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    clients: { type: 'string', default: '200' },
    'phase-seconds': { type: 'string', default: '5' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
  },
})
const SECONDS = Number(values.seconds)
const CLIENTS = Number(values.clients)
const PHASE_MS = Number(values['phase-seconds']) * 1000
const SEED = Number(values.seed)
// Every cooldown ends within a phase, so the resting key is usable again when its turn comes.
const COOLDOWN_MS = Math.min(2000, PHASE_MS / 2)
const HEAP_TOLERANCE_MB = 32
const RSS_TOLERANCE_MB = 96

const KEYS = ['sk-soak-key0-Vb7Qm2Xr9Lt4Wn8Kc3Ps6Zd1-A0a0', 'sk-soak-key1-Hj3Tn8Rq5Xw2Lm7Vc9Kp4Zs6-B1b1', 'sk-soak-key2-Rm9Wq4Xt7Ln2Vb5Kc8Ps3Zd6-C2c2', 'sk-soak-key3-Tq5Xn1Rw8Lm4Vc7Kb2Ps9Zh3-D3d3']
const HINTS = new Map(KEYS.map((k) => [k, maskKey(k)]))
const BYOK_KEY = 'client-soak-own-Pz4Xq9Wm2Rt7Lv5Nc8Kb3-E4e4'
const MOUNT_NAMES = ['node', 'express', 'koa', 'fastify']
const PREFIX = { node: '', express: '/ai', koa: '/ai', fastify: '/ai' }

/** mulberry32, so a run's mix of requests follows its seed. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function within(promise, ms, what) {
  let timer
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)))
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

// The process's own stdio and the short-lived requests of a write or close in progress are not the
// run's: everything else (sockets, servers, timers, immediates) must be gone at the end.
const NOT_THE_RUNS = new Set(['PipeWrap', 'TTYWrap', 'CloseReq', 'WriteWrap', 'ShutdownWrap', 'FSReqCallback', 'FSReqPromise'])

function resources() {
  const counts = {}
  for (const r of process.getActiveResourcesInfo()) if (!NOT_THE_RUNS.has(r)) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

async function gcSettled() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.()
    await sleep(100)
  }
  const m = process.memoryUsage()
  return { rssMB: Math.round(m.rss / 1048576), heapMB: Math.round(m.heapUsed / 1048576) }
}

const bump = (obj, key, n = 1) => void (obj[key] = (obj[key] ?? 0) + n)

// ---- baseline ------------------------------------------------------------------------------

const baseHandles = resources()
const baseMemory = await gcSettled()
if (!globalThis.gc) console.error('(run with node --expose-gc for exact memory figures; pnpm soak does)')

// ---- the simulator, its faults, and what it saw ----------------------------------------------

const sim = await startSimulator()
const { supported, skipped } = supportedFaults(sim)
const tries = new Map() // tag -> { hints, at }: the pool keys the simulator saw for a request, in order
const faultById = new Map() // req_sim_n -> { kind, at }, faulted requests only
const faultByTag = new Map() // tag -> { kind, at }: the fault of a request's latest faulted attempt
const faultHits = {}

/** Moves what the simulator recorded into small indexes, and forgets the rest (its list grows without end). */
function harvest() {
  for (const r of sim.requests) {
    if (r.fault) {
      bump(faultHits, r.fault)
      faultById.set(`req_sim_${r.id}`, { kind: r.fault, at: Date.now() })
    }
    const tag = /soak ([\w-]+)/.exec(r.body.toString('latin1'))?.[1]
    if (!tag) continue
    if (r.fault) faultByTag.set(tag, { kind: r.fault, at: Date.now() })
    let t = tries.get(tag)
    if (!t) tries.set(tag, (t = { hints: [], at: Date.now() }))
    if (HINTS.has(r.key)) t.hints.push(HINTS.get(r.key))
  }
  sim.requests.length = 0
}

function prune() {
  const old = Date.now() - 30_000
  for (const [tag, t] of tries) if (t.at < old) tries.delete(tag)
  for (const [id, f] of faultById) if (f.at < old) faultById.delete(id)
  for (const [tag, f] of faultByTag) if (f.at < old) faultByTag.delete(tag)
}

// ---- bridges on every mount ------------------------------------------------------------------

const scanner = new LeakScanner(Object.fromEntries([...KEYS.map((k, i) => [`pool key ${i}`, k]), ['BYOK client key', BYOK_KEY]]))
const ledger = new Ledger((tag) => {
  harvest()
  const t = tries.get(tag)
  tries.delete(tag)
  return t?.hints
})
const stats = { logLines: 0, hostErrors: 0 }
// Requests that reached each host server, and records each bridge emitted: one record per request.
const arrived = Object.fromEntries(MOUNT_NAMES.map((n) => [n, 0]))
const recorded = Object.fromEntries(MOUNT_NAMES.map((n) => [n, 0]))
const served = {}
for (const name of MOUNT_NAMES) {
  const bridge = createBridge({
    providers: {
      anthropic: { keys: KEYS, baseURL: sim.anthropicBaseURL, keyOrder: 'ordered' },
      openai: { keys: KEYS, baseURL: sim.openaiBaseURL, keyOrder: 'round-robin' },
    },
    cooldowns: { rateLimitMs: COOLDOWN_MS, quotaMs: COOLDOWN_MS, authRecheckMs: COOLDOWN_MS, maxMs: COOLDOWN_MS },
    timeouts: { headersMs: 15_000, bodyIdleMs: 3000 },
    logger: scanningLogger((line) => {
      stats.logLines++
      scanner.scan(line, `log (${name})`)
    }),
    onInterception(record) {
      recorded[name]++
      scanner.scan(JSON.stringify(record), `record (${name})`)
      ledger.record(name, record)
    },
  })
  const mounted = await MOUNTS[name](bridge, { prefix: PREFIX[name], onHostError: () => stats.hostErrors++ })
  mounted.server.on('request', () => arrived[name]++)
  const pool = new Pool(`http://127.0.0.1:${mounted.port}`, { connections: Math.ceil(CLIENTS / MOUNT_NAMES.length) + 4 })
  served[name] = { bridge, pool, ...mounted }
}

// ---- the fault schedule ----------------------------------------------------------------------

let phaseNo = 0
const phasesRun = {}
function applyPhase() {
  sim.clearFaults()
  // Stalled answers go on, so a fault ends with its phase.
  sim.release()
  const { faulty } = phase(phaseNo, supported)
  for (const { key, fault } of faulty) {
    sim.fault(KEYS[key], fault.fault)
    bump(phasesRun, fault.name)
  }
  phaseNo++
}

// ---- clients ---------------------------------------------------------------------------------

const failures = []
let failuresTotal = 0
function fail(kind, detail) {
  failuresTotal++
  if (failures.filter((f) => f.kind === kind).length < 5) failures.push({ kind, ...detail })
}
const seen = { requests: 0, byMount: {}, outcomes: {}, passedThrough: {} }
let closing = false
let stopping = false

/** Check 1 for one request: a failure must be one the schedule made, never one for want of a key. */
function judge(obs) {
  // The answer's own fault; for a client that saw no answer (a reset before the status line), the fault of its latest attempt.
  const f = obs.requestId ? faultById.get(obs.requestId) : faultByTag.get(obs.tag)
  faultByTag.delete(obs.tag)
  const detail = { tag: obs.tag, mount: obs.mount, provider: obs.provider, stream: obs.stream, status: obs.status, outcome: obs.outcome, fault: f?.kind ?? null, message: obs.bridgeMessage, error: obs.error }
  if (obs.crossed) fail('an answer without the request it was for', detail)
  if (obs.keyFaultSeen) return fail("a key's fault reached the client", detail)
  switch (obs.outcome) {
    case 'ok':
      // A stream whose first event is the provider's own error that no other key would fix (overloaded).
      if (obs.providerError !== undefined) {
        if (f?.kind === 'stream_error') return bump(seen.passedThrough, 'stream_error')
        return fail('failed with no fault behind it', { ...detail, providerError: obs.providerError })
      }
      return
    case 'client_aborted':
      return
    case 'rejected':
      if (!closing) fail('refused before close()', detail)
      return
    case 'upstream_error':
      // A 5xx, or an overloaded stream error answered as a status to a request that was not streamed.
      if (f?.kind === 'server_error' || f?.kind === 'stream_error') return bump(seen.passedThrough, f.kind)
      return fail('failed with no fault behind it', detail)
    case 'truncated':
      if (f?.kind === 'die_mid_stream' || f?.kind === 'stall') return bump(seen.passedThrough, f.kind)
      return fail('failed with no fault behind it', detail)
    default:
      // exhausted, timeout, transport_error, internal_error, incomplete.
      return fail(obs.outcome === 'exhausted' ? 'failed while a usable key existed' : `failed: ${obs.outcome}`, detail)
  }
}

async function client(i) {
  const mount = MOUNT_NAMES[i % MOUNT_NAMES.length]
  const rand = prng(SEED * 1000 + i)
  let n = 0
  while (!stopping) {
    const obs = await oneRequest({ pool: served[mount].pool, mount, prefix: PREFIX[mount], tag: `${mount}-${i}-${n++}`, rand, byokKey: BYOK_KEY, scanner })
    seen.requests++
    bump(seen.byMount, mount)
    bump(seen.outcomes, obs.outcome)
    harvest()
    judge(obs)
    ledger.observation(obs)
  }
}

// ---- the run ---------------------------------------------------------------------------------

const started = Date.now()
applyPhase()
const phaseTimer = setInterval(applyPhase, PHASE_MS)
const peak = { rssMB: 0 }
const tick = setInterval(() => {
  harvest()
  prune()
  ledger.sweep()
  const rssMB = Math.round(process.memoryUsage().rss / 1048576)
  peak.rssMB = Math.max(peak.rssMB, rssMB)
  const s = Math.round((Date.now() - started) / 1000)
  if (s % 10 === 0) console.error(`  ${s}s: ${seen.requests} requests, rss ${rssMB} MB, failures ${failuresTotal + (ledger.failuresTotal ?? 0)}`)
}, 1000)
const loops = Array.from({ length: CLIENTS }, (_, i) => client(i))

await sleep(SECONDS * 1000)
clearInterval(phaseTimer)

// resetKey under load: no faults from here on, every key back in service at once.
sim.clearFaults()
sim.release()
for (const name of MOUNT_NAMES) {
  const { bridge } = served[name]
  for (const provider of ['anthropic', 'openai']) for (const key of KEYS) bridge.resetKey(provider, HINTS.get(key))
  for (const [provider, states] of Object.entries(bridge.keyStates())) {
    const out = states.filter((s) => s.state !== 'valid')
    if (out.length > 0) fail('a key still out after resetKey', { mount: name, provider, keys: out.map((s) => s.hint) })
  }
}
await sleep(1500)

// close() under load: the clients keep sending while every bridge closes.
closing = true
const closeStarted = Date.now()
const closed = await Promise.allSettled(MOUNT_NAMES.map((name) => within(served[name].bridge.close(), 20_000, `${name} bridge.close()`)))
for (const c of closed) if (c.status === 'rejected') fail('close() under load', { error: c.reason.message })
const closeMs = Date.now() - closeStarted
stopping = true
await within(Promise.all(loops), 30_000, 'the clients')
clearInterval(tick)

for (const name of MOUNT_NAMES) {
  await served[name].pool.close()
  await served[name].close()
}
await sim.close()
harvest()
const ledgerFailures = ledger.finish()
const runSeconds = (closeStarted - started) / 1000

// Handles: back to the ones there were before the run, within 5 s.
let handles = resources()
for (let i = 0; i < 50 && JSON.stringify(handles) !== JSON.stringify(baseHandles); i++) {
  await sleep(100)
  handles = resources()
}
const endMemory = await gcSettled()
const checks = [
  ['no request failed while a usable key existed', failures.length === 0, `${failuresTotal} failures among ${seen.requests} requests`],
  [
    'every record matches what its client saw',
    ledgerFailures.length === 0 && JSON.stringify(arrived) === JSON.stringify(recorded),
    `${ledger.stats.records} records for ${seen.requests} requests: ${ledger.stats.pairedById} paired by upstream id (${ledger.stats.leftAfterTheEnd} of them clients that left mid-read after the bridge had written everything), ${ledger.stats.matchedByShape} matched by shape; ${ledger.stats.leftBeforeAnAnswer} clients left before their request reached a bridge; requests that reached each host ${JSON.stringify(arrived)}, records ${JSON.stringify(recorded)}`,
  ],
  ['open handles back to baseline', JSON.stringify(handles) === JSON.stringify(baseHandles), `before ${JSON.stringify(baseHandles)}, after ${JSON.stringify(handles)}`],
  [`heap back to baseline (+${HEAP_TOLERANCE_MB} MiB)`, endMemory.heapMB <= baseMemory.heapMB + HEAP_TOLERANCE_MB, `${baseMemory.heapMB} -> ${endMemory.heapMB} MB`],
  [`RSS back to baseline (+${RSS_TOLERANCE_MB} MiB)`, endMemory.rssMB <= baseMemory.rssMB + RSS_TOLERANCE_MB, `${baseMemory.rssMB} -> peak ${peak.rssMB} -> ${endMemory.rssMB} MB`],
  ['zero key-leak hits', scanner.hits === 0, `${scanner.hits} hits${scanner.hits ? ' ' + JSON.stringify(scanner.samples) : ''}`],
]

console.log(`aibridge soak: ${runSeconds.toFixed(0)} s of load, ${CLIENTS} clients, phases of ${PHASE_MS / 1000} s, seed ${SEED}, node ${process.version}`)
console.log(`requests: ${seen.requests} (${Math.round(seen.requests / runSeconds)}/s) ${JSON.stringify(seen.byMount)}`)
console.log(`outcomes: ${JSON.stringify(seen.outcomes)}`)
console.log(`failures passed through by design: ${JSON.stringify(seen.passedThrough)}`)
console.log(`faults scheduled (phases): ${JSON.stringify(phasesRun)}`)
console.log(`faulted answers by the simulator: ${JSON.stringify(faultHits)}`)
if (skipped.length) console.log(`faults this simulator cannot make (skipped): ${skipped.join(', ')}`)
console.log(`close() under load: ${closeMs} ms; log lines: ${stats.logLines}; host error events: ${stats.hostErrors}`)
for (const [name, ok, detail] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}: ${detail}`)
for (const f of [...failures, ...ledgerFailures]) console.log(JSON.stringify(f))
process.exit(checks.every(([, ok]) => ok) ? 0 : 1)
