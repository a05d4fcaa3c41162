// The soak's fault schedule. Time runs in phases; in phase p, of the four keys
//   p % 4        is healthy: no fault (it rested through phase p-1, so no cooldown of its is left),
//   (p + 1) % 4  rests: no fault, its cooldowns run out before it is the healthy one,
//   the other 2  carry one fault each, for every request, taken in turn from FAULTS.
// So a usable key exists at every moment, as long as every cooldown is shorter than a phase (the
// soak caps them with cooldowns.maxMs). To add a fault kind, add a line to FAULTS; a kind the
// simulator does not know is skipped (and listed as skipped in the summary).

/**
 * `key`: the fault takes the key out (the bridge must fail over, and no client may see it).
 * `passes`: by design the client sees it (a 5xx, a stream cut or stalled mid-way, an overloaded stream).
 */
export const FAULTS = [
  { name: '429 retry-after seconds', fault: { kind: 'rate_limit', retry: 'retry-after', seconds: 1 }, key: true },
  { name: '429 retry-after HTTP-date', fault: { kind: 'rate_limit', retry: 'retry-after-date', seconds: 1 }, key: true },
  { name: '429 retry-after-ms', fault: { kind: 'rate_limit', retry: 'retry-after-ms', seconds: 1.5 }, key: true },
  { name: '429 anthropic-ratelimit-*-reset', fault: { kind: 'rate_limit', retry: 'anthropic-reset', seconds: 1 }, key: true },
  { name: '429 x-ratelimit-reset-*', fault: { kind: 'rate_limit', retry: 'openai-reset', seconds: 1 }, key: true },
  { name: '429 no wait header', fault: { kind: 'rate_limit', retry: 'none' }, key: true },
  { name: '401', fault: { kind: 'unauthorized' }, key: true },
  { name: '403', fault: { kind: 'forbidden' }, key: true },
  { name: 'quota', fault: { kind: 'quota' }, key: true },
  { name: '500', fault: { kind: 'server_error', status: 500 }, passes: true },
  { name: 'mid-stream cut', fault: { kind: 'die_mid_stream', afterEvents: 2 }, passes: true },
  { name: 'stall', fault: { kind: 'stall', afterEvents: 1 }, passes: true },
  { name: 'slow first byte', fault: { kind: 'slow_first_byte', ms: 300 } },
  { name: 'first-event rate limit', fault: { kind: 'stream_error', error: 'rate_limit', afterEvents: 0 }, key: true },
  { name: 'first-event quota', fault: { kind: 'stream_error', error: 'quota', afterEvents: 0 }, key: true },
  { name: 'first-event 401', fault: { kind: 'stream_error', error: 'unauthorized', afterEvents: 0 }, key: true },
  { name: 'first-event overloaded', fault: { kind: 'stream_error', error: 'overloaded', afterEvents: 0 }, passes: true },
]

/** The faults this simulator can script: each is tried on a throwaway key. */
export function supportedFaults(sim) {
  const supported = []
  const skipped = []
  for (const f of FAULTS) {
    try {
      sim.fault('soak-probe-key', f.fault, { times: 1 })
      supported.push(f)
    } catch {
      skipped.push(f.name)
    }
  }
  sim.clearFaults('soak-probe-key')
  return { supported, skipped }
}

/** Phase p: the healthy key, the resting one, and the two faulty keys with their faults. */
export function phase(p, faults) {
  return {
    healthy: p % 4,
    resting: (p + 1) % 4,
    faulty: [
      { key: (p + 2) % 4, fault: faults[(2 * p) % faults.length] },
      { key: (p + 3) % 4, fault: faults[(2 * p + 1) % faults.length] },
    ],
  }
}
