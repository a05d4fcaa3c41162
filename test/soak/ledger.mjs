// Matching the bridges' records to what their clients saw. A record and an observation are paired by
// the upstream request id the client received (the simulator's `req_sim_<n>`); the pair must agree on
// status and outcome, and the record's keysTried must be the keys the simulator saw for that request,
// in order. What cannot be paired (the bridge's own answers carry no upstream id; a client that left
// before the headers saw none) is matched as a multiset of (mount, provider, status, outcome); the
// records left over then belong to clients that left before any answer, by count per mount (a client
// that left before its request was even sent has no record at all). Pairs are settled as they come,
// so memory stays flat over a long run.

const SETTLE_MS = 5000
// A client that left while reading may have left after the bridge had handed it the whole answer.
const LEFT_LATE = new Set(['client_aborted', 'ok', 'upstream_error', 'truncated'])

/**
 * What an unpaired record and observation must agree on. A truncated one leaves the status out: a
 * body that is not SSE and breaks before its first byte resets the connection before Node has sent the
 * status line (it goes out with the first write), so the client saw none while the record says 200.
 */
function shapeOf(x) {
  return `${x.mount}|${x.provider}|${x.outcome === 'truncated' ? '-' : x.status}|${x.outcome}`
}

export class Ledger {
  #pendingObs = new Map()
  #pendingRecords = new Map()
  // (mount|provider|status|outcome) -> observations minus records, for what had no id to pair by.
  #shapes = new Map()
  // mount -> early leavers without an id, minus unpaired records left for them.
  #leavers = new Map()
  stats = { observations: 0, records: 0, pairedById: 0, matchedByShape: 0, leftAfterTheEnd: 0, leftBeforeAnAnswer: 0 }
  failures = []

  /** `triesFor(tag)`: the hints of the keys the simulator saw for a request, in order (consumed). */
  constructor(triesFor) {
    this.triesFor = triesFor
  }

  #fail(kind, detail) {
    if (this.failures.filter((f) => f.kind === kind).length < 5) this.failures.push({ kind, ...detail })
    this.failuresTotal = (this.failuresTotal ?? 0) + 1
  }

  observation(obs) {
    this.stats.observations++
    obs.at = Date.now()
    const record = obs.requestId && this.#pendingRecords.get(obs.requestId)
    if (record) {
      this.#pendingRecords.delete(obs.requestId)
      this.#pair(obs, record)
    } else if (obs.requestId) this.#pendingObs.set(obs.requestId, obs)
    else this.#unpairedObs(obs)
  }

  record(mount, record) {
    this.stats.records++
    const r = { mount, provider: record.provider, status: record.status, outcome: record.outcome, keysTried: record.keysTried, credentialKind: record.credentialKind, at: Date.now() }
    const id = record.upstreamRequestId
    const obs = id && this.#pendingObs.get(id)
    if (obs) {
      this.#pendingObs.delete(id)
      this.#pair(obs, r)
    } else if (id) this.#pendingRecords.set(id, r)
    else this.#unpairedRecord(r)
  }

  #pair(obs, r) {
    this.stats.pairedById++
    const detail = { tag: obs.tag, mount: obs.mount, client: { status: obs.status, outcome: obs.outcome, seen: obs.seen }, record: { status: r.status, outcome: r.outcome } }
    if (r.mount !== obs.mount) this.#fail('record from another mount', detail)
    if (obs.seen === 'aborted') {
      if (!LEFT_LATE.has(r.outcome)) this.#fail('record differs from what its client saw', detail)
      else if (r.outcome !== 'client_aborted') this.stats.leftAfterTheEnd++
    } else if (r.status !== obs.status || r.outcome !== obs.outcome) this.#fail('record differs from what its client saw', detail)
    if (!obs.byok) {
      const tries = this.triesFor(obs.tag)
      if (tries && JSON.stringify(tries) !== JSON.stringify(r.keysTried)) this.#fail('keysTried differs from the keys the provider saw', { ...detail, keysTried: r.keysTried, providerSaw: tries })
    }
  }

  #unpairedObs(obs) {
    if (obs.seen === 'aborted') this.#leavers.set(obs.mount, (this.#leavers.get(obs.mount) ?? 0) + 1)
    else this.#shape(shapeOf(obs), +1)
  }

  #unpairedRecord(r) {
    if (r.outcome === 'client_aborted') this.#leavers.set(r.mount, (this.#leavers.get(r.mount) ?? 0) - 1)
    else this.#shape(shapeOf(r), -1)
  }

  #shape(key, n) {
    const v = (this.#shapes.get(key) ?? 0) + n
    if (v === 0) this.#shapes.delete(key)
    else this.#shapes.set(key, v)
    // An observation and a record of the same shape cancel out: one more matched.
    if (Math.abs(v) < Math.abs(v - n)) this.stats.matchedByShape++
  }

  /** Moves what waited longer than SETTLE_MS (or everything, at the end) to the unpaired side. */
  sweep(all = false) {
    const before = Date.now() - SETTLE_MS
    for (const [id, obs] of this.#pendingObs) {
      if (!all && obs.at > before) continue
      this.#pendingObs.delete(id)
      this.#unpairedObs(obs)
    }
    for (const [id, r] of this.#pendingRecords) {
      if (!all && r.at > before) continue
      this.#pendingRecords.delete(id)
      this.#unpairedRecord(r)
    }
  }

  /** The final verdict, once every record is in. */
  finish() {
    this.sweep(true)
    for (const [key, n] of this.#shapes) {
      const [mount, provider, status, outcome] = key.split('|')
      // A record no client saw: its client left before the answer came (the bridge wrote it all the same).
      if (n < 0) this.#leavers.set(mount, (this.#leavers.get(mount) ?? 0) + n)
      else this.#fail('clients saw answers no record shows', { mount, provider, status, outcome, count: n })
    }
    for (const [mount, n] of this.#leavers) {
      if (n < 0) this.#fail('records without a client', { mount, count: -n })
      else this.stats.leftBeforeAnAnswer += n
    }
    if (this.stats.records > this.stats.observations) this.#fail('more records than requests', { records: this.stats.records, requests: this.stats.observations })
    return this.failures
  }
}
