/**
 * Midnight in America/Los_Angeles, when Google's per-day quotas reset. Daylight saving is the time
 * zone database's business (Intl), not ours: a day there is 23, 24 or 25 hours long.
 */

const ZONE = 'America/Los_Angeles'
let format: Intl.DateTimeFormat | undefined

/** The wall clock in Los Angeles at `t`, as if that wall clock were UTC (whole seconds). */
function wallClock(t: number): number {
  format ??= new Intl.DateTimeFormat('en-US', {
    timeZone: ZONE,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  })
  const p: Record<string, number> = {}
  for (const part of format.formatToParts(t)) if (part.type !== 'literal') p[part.type] = Number(part.value)
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!)
}

/** Los Angeles' offset from UTC at `t`, in ms (negative: -8 h in winter, -7 h in summer). */
function offsetAt(t: number): number {
  return wallClock(t) - Math.floor(t / 1000) * 1000
}

/** Epoch ms of the first midnight in Los Angeles after `now` (the next one when `now` is one). */
export function nextPacificMidnight(now: number): number {
  const local = new Date(wallClock(now))
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 1)
  // The offset at midnight may differ from the one now (a DST change in between); midnight itself is
  // never skipped or repeated there (the changes happen at 2 a.m.), so one correction settles it.
  const guess = midnight - offsetAt(now)
  return midnight - offsetAt(guess)
}
