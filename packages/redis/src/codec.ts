import type { KeyMark } from '@aibridge/core'

const STATES = new Set(['temporary', 'permanent'])
const REASONS = new Set(['rate_limited', 'quota_exhausted', 'auth_failed'])

/** A mark as stored and announced. `until: Infinity` is written as the string "Infinity" (JSON has no Infinity). */
export function encodeMark(mark: KeyMark): string {
  const { state, reason, until, at, status } = mark
  return JSON.stringify({ state, reason, until: Number.isFinite(until) ? until : 'Infinity', at, ...(status === undefined ? {} : { status }) })
}

/** A JSON object, or undefined for anything else (what another writer or a bad message left). */
function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const raw: unknown = JSON.parse(text)
    return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** The mark a stored string holds, or undefined for anything that is not one. */
export function decodeMark(text: unknown): KeyMark | undefined {
  const raw = typeof text === 'string' ? parseObject(text) : undefined
  if (!raw) return undefined
  const until = raw.until === 'Infinity' ? Infinity : raw.until
  const { state, reason, at, status } = raw
  if (typeof state !== 'string' || !STATES.has(state) || typeof reason !== 'string' || !REASONS.has(reason)) return undefined
  if (typeof until !== 'number' || Number.isNaN(until) || typeof at !== 'number' || !Number.isFinite(at)) return undefined
  const mark: KeyMark = { state: state as KeyMark['state'], reason: reason as KeyMark['reason'], until, at }
  if (typeof status === 'number') mark.status = status
  return mark
}

/** A mark's deadline as the scripts compare it: whole ms (rounded up, as PEXPIREAT takes them), or "inf". */
export function deadlineArg(until: number): string {
  return Number.isFinite(until) ? String(Math.ceil(until)) : 'inf'
}

/** A change announced on the channel: a key's new mark, or none (cleared), at a version. */
export interface Change {
  provider: string
  keyId: string
  version: number
  mark: KeyMark | undefined
}

export function decodeChange(text: string): Change | undefined {
  const raw = parseObject(text)
  if (!raw) return undefined
  const { p, k, v, m } = raw
  const version = parseVersion(v)
  if (typeof p !== 'string' || typeof k !== 'string' || version === undefined) return undefined
  if (m === undefined) return { provider: p, keyId: k, version, mark: undefined }
  const mark = decodeMark(m)
  return mark ? { provider: p, keyId: k, version, mark } : undefined
}

/** Versions are integers under 2^53 (microseconds of Redis time), sent as strings so no Lua number formatting rounds them. */
export function parseVersion(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : typeof value === 'number' ? value : NaN
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}
