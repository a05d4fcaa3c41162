import { AibridgeOptionError, type Bridge, type InterceptionRecord, type Outcome, type TokenUsage } from '@aibridge/core'
import { describeOptionValue, isBridge } from '@aibridge/core/adapter'
import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client'

export interface PrometheusOptions {
  /** Where the metrics are registered. @default prom-client's default registry (`register`) */
  registry?: Registry
  /**
   * Put before every metric name. Change it only to export two bridges into one registry; the rest
   * of each name is fixed. @default 'aibridge_'
   */
  prefix?: string
  /**
   * How many distinct `model` label values are kept; requests for any further model are counted as
   * `model="other"`, so a client that sends many model names cannot grow the registry without end.
   * @default 100
   */
  maxModels?: number
}

/** The metrics of one bridge in one registry. */
export interface PrometheusExporter {
  /** The names registered, prefix included. */
  readonly metricNames: readonly string[]
  /** Stops listening to the bridge and removes the metrics from the registry. */
  stop(): void
}

const STATES = ['valid', 'temporary', 'permanent'] as const
const TRANSITIONS = ['rate_limited', 'quota_exhausted', 'auth_failed', 'reset'] as const
const EXHAUSTIONS = ['rate_limited', 'unauthorized'] as const
const TOKEN_KINDS: ReadonlyArray<[keyof TokenUsage, string]> = [
  ['inputTokens', 'input'],
  ['outputTokens', 'output'],
  ['cacheReadTokens', 'cache_read'],
  ['cacheWriteTokens', 'cache_write'],
]
// Outcomes whose first byte came from the provider (aibridge's own quick answers would skew latency).
const RELAYED = new Set<Outcome>(['ok', 'upstream_error', 'truncated', 'client_aborted'])
const OPTIONS = new Set(['registry', 'prefix', 'maxModels'])

/**
 * Registers the bridge's metrics in a prom-client registry and keeps them up to date from the
 * bridge's events (`bridge.observe`); the key-pool gauge is read from `bridge.keyStates()` at each
 * scrape. Labels hold provider names, states, reasons, outcomes and model names, never a key, a
 * key's hint or a path.
 */
export function prometheus(bridge: Bridge, options: PrometheusOptions = {}): PrometheusExporter {
  if (!isBridge(bridge)) throw new AibridgeOptionError(`prometheus() takes a Bridge first, got ${describeOptionValue(bridge)}`)
  if (typeof options !== 'object' || options === null) throw new AibridgeOptionError(`prometheus() options must be an object, got ${describeOptionValue(options)}`)
  for (const name of Object.keys(options)) {
    if (!OPTIONS.has(name)) throw new AibridgeOptionError(`prometheus() option ${JSON.stringify(name)} is not an option (registry, prefix, maxModels)`)
  }
  const registry = options.registry ?? defaultRegistry
  if (typeof registry?.registerMetric !== 'function') throw new AibridgeOptionError(`prometheus() option registry must be a prom-client Registry, got ${describeOptionValue(registry)}`)
  const prefix = options.prefix ?? 'aibridge_'
  if (typeof prefix !== 'string' || !/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix)) {
    throw new AibridgeOptionError(`prometheus() option prefix must be a metric name prefix such as 'aibridge_', got ${describeOptionValue(prefix)}`)
  }
  const maxModels = options.maxModels ?? 100
  if (!Number.isSafeInteger(maxModels) || maxModels < 0) throw new AibridgeOptionError(`prometheus() option maxModels must be a whole number, got ${describeOptionValue(maxModels)}`)

  const name = (rest: string): string => prefix + rest
  const taken = ['key_pool_state', 'key_pool_state_transitions_total', 'key_pool_exhaustions_total', 'key_pool_failover_attempts', 'requests_total', 'request_duration_seconds', 'time_to_first_byte_seconds', 'tokens_total']
    .map(name)
    .filter((n) => registry.getSingleMetric(n) !== undefined)
  if (taken.length > 0) {
    throw new AibridgeOptionError(`${taken.join(', ')} already registered in this registry: stop() the exporter that registered it, or give this bridge another prefix`)
  }

  const registers = [registry]
  const pool = new Gauge({
    name: name('key_pool_state'),
    help: 'Keys of each provider in each state (valid, temporary, permanent), at scrape time.',
    labelNames: ['provider', 'state'],
    registers,
    collect() {
      this.reset()
      for (const [provider, keys] of Object.entries(bridge.keyStates())) {
        for (const state of STATES) this.set({ provider, state }, keys.filter((k) => k.state === state).length)
      }
    },
  })
  const transitions = new Counter({
    name: name('key_pool_state_transitions_total'),
    help: 'Keys taken out of rotation, by reason (rate_limited, quota_exhausted, auth_failed), and put back with resetKey (reset).',
    labelNames: ['provider', 'reason'],
    registers,
  })
  const exhaustions = new Counter({
    name: name('key_pool_exhaustions_total'),
    help: 'Centralized requests that found no usable key: answered 429 (rate_limited) or 502 (unauthorized).',
    labelNames: ['provider', 'outcome'],
    registers,
  })
  const attempts = new Histogram({
    name: name('key_pool_failover_attempts'),
    help: 'Upstream attempts per centralized request that reached the key pool (0: no key was usable).',
    labelNames: ['provider'],
    buckets: [0, 1, 2, 3, 4, 5, 10],
    registers,
  })
  const requests = new Counter({
    name: name('requests_total'),
    help: 'Requests handled, by credential kind (centralized, byok) and outcome.',
    labelNames: ['provider', 'credential_kind', 'outcome'],
    registers,
  })
  const duration = new Histogram({
    name: name('request_duration_seconds'),
    help: 'Time from the request reaching aibridge to the end of its response.',
    labelNames: ['provider', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers,
  })
  const firstByte = new Histogram({
    name: name('time_to_first_byte_seconds'),
    help: "Time from the request reaching aibridge to the first byte of the provider's answer reaching the client.",
    labelNames: ['provider'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers,
  })
  const tokens = new Counter({
    name: name('tokens_total'),
    help: 'Tokens the providers reported, by model and kind (input, output, cache_read, cache_write), as each provider counts them.',
    labelNames: ['provider', 'model', 'kind'],
    registers,
  })
  const metrics = [pool, transitions, exhaustions, attempts, requests, duration, firstByte, tokens]

  // Known label sets start at zero, so rate() and alerts see a series before the first event.
  for (const provider of bridge.providerNames) {
    for (const reason of TRANSITIONS) transitions.inc({ provider, reason }, 0)
    for (const outcome of EXHAUSTIONS) exhaustions.inc({ provider, outcome }, 0)
  }

  const models = new Set<string>()
  const modelLabel = (model: string | null): string => {
    if (model === null) return 'unknown'
    if (models.has(model)) return model
    if (models.size >= maxModels) return 'other'
    models.add(model)
    return model
  }

  const unsubscribe = bridge.observe({
    keyMarked: (e) => transitions.inc({ provider: e.provider, reason: e.reason }),
    keyReset: (e) => transitions.inc({ provider: e.provider, reason: 'reset' }),
    poolExhausted: (e) => exhaustions.inc({ provider: e.provider, outcome: e.kind }),
    requestEnded: (r: InterceptionRecord) => {
      const provider = r.provider
      requests.inc({ provider, credential_kind: r.credentialKind, outcome: r.outcome })
      duration.observe({ provider, outcome: r.outcome }, r.durationMs / 1000)
      if (r.firstByteMs !== null && RELAYED.has(r.outcome)) firstByte.observe({ provider }, r.firstByteMs / 1000)
      if (r.credentialKind === 'centralized' && (r.attempts > 0 || r.outcome === 'exhausted')) attempts.observe({ provider }, r.attempts)
      const usage = r.usage
      if (usage) {
        const model = modelLabel(r.model)
        for (const [field, kind] of TOKEN_KINDS) {
          const n = usage[field]
          if (n !== null) tokens.inc({ provider, model, kind }, n)
        }
      }
    },
  })

  let stopped = false
  return {
    metricNames: metrics.map((m) => (m as unknown as { name: string }).name),
    stop() {
      if (stopped) return
      stopped = true
      unsubscribe()
      for (const m of metrics) {
        const metricName = (m as unknown as { name: string }).name
        // Only ours: a metric registered under the name since stop() must not be removed.
        if (registry.getSingleMetric(metricName) === m) registry.removeSingleMetric(metricName)
      }
    },
  }
}

export default prometheus
