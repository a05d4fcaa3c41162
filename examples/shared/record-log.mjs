// The log line an example writes for each request, from aibridge's record of it.

/** One log line per request. A record holds key hints only, never a key. */
export function formatRecord(r) {
  const servedBy = r.credentialKind === 'byok' ? 'byok' : r.outcome === 'exhausted' ? '-' : (r.credentialHint ?? '-')
  const tried = r.keysTried.length > 1 ? ` keys_tried=${r.keysTried.join(',')}` : ''
  return `[aibridge] ${r.provider} ${r.method} ${r.path} status=${r.status ?? '-'} outcome=${r.outcome} served_by=${servedBy}${tried} attempts=${r.attempts} ms=${r.durationMs}`
}

/** The default `onInterception`: the line on stdout. */
export function logRecord(r) {
  console.log(formatRecord(r))
}
