import { classify, type Judgement } from './classify.js'
import { headerGetter } from './error-body.js'
import type { ProviderDialect } from './providers/index.js'
import type { UpstreamCall } from './upstream-call.js'

/** The most of a stream's start held back from the client while waiting for its first event. */
export const STREAM_START_LIMIT = 64 * 1024

const PASSED: Judgement = { verdict: { failover: false } }

/** An SSE event's name and data (its `data:` lines joined), or undefined for a comment-only event. */
interface SseEvent {
  event: string | undefined
  data: string
}

/**
 * The first event of an SSE stream that carries data, when it is complete in `bytes`; `null` when it is
 * not there yet. Comments (`: keep-alive`) and events without data are skipped, as a client skips them.
 */
export function firstDataEvent(bytes: Buffer): SseEvent | null {
  const text = bytes.toString('utf8')
  let event: string | undefined
  let data: string[] | undefined
  let at = 0
  while (at < text.length) {
    let end = at
    while (end < text.length && text[end] !== '\n' && text[end] !== '\r') end++
    // A line is complete only when its end is here (a CR at the very end may be half of CRLF: fine either way).
    if (end === text.length) return null
    const line = text.slice(at, end)
    at = end + (text[end] === '\r' && text[end + 1] === '\n' ? 2 : 1)
    if (line === '') {
      if (data) return { event, data: data.join('\n') }
      event = undefined
      continue
    }
    if (line[0] === ':') continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value[0] === ' ') value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') (data ??= []).push(value)
  }
  return null
}

/** True once `bytes` holds a complete event with data (or cannot: the caller's limits decide). */
export function hasFirstEvent(bytes: Buffer): boolean {
  return firstDataEvent(bytes) !== null
}

/**
 * Judges a pool key's streaming answer by its first event: an error there (a rate limit, a bad key, an
 * exhausted quota, behind a `200 OK`) is judged exactly as the status it stands for would be, so the
 * request fails over before the client sees a byte. Anything else, or a stream whose first event does
 * not come within the limits, goes to the client as it is.
 */
export async function judgeStreamStart(dialect: ProviderDialect, call: UpstreamCall, waitMs: number): Promise<Judgement> {
  let bytes: Buffer
  try {
    ;({ bytes } = await call.collect(STREAM_START_LIMIT, hasFirstEvent, waitMs))
  } catch {
    // Broken before its first event: the relay reports the death as it would have.
    return PASSED
  }
  const first = firstDataEvent(bytes)
  // A cheap test first: the common first event (message_start, a role chunk) is never parsed twice.
  if (!first || !first.data.includes('error') && !first.data.includes('failed')) return PASSED
  let data: unknown
  try {
    data = JSON.parse(first.data)
  } catch {
    return PASSED
  }
  const answer = dialect.streamStartError(first.event, data)
  if (!answer) return PASSED
  return { verdict: classify(dialect, answer.status, headerGetter(call.headers), answer.body) }
}
