/**
 * Property: however the provider's SSE stream is cut into chunks, the client gets the same events.
 * On a clean end it gets the stream byte for byte; when the provider dies, every event whose blank
 * line had arrived, then one error event, and never a torn event. Checked on `lastEventEnd` (the
 * splitter), on `BodyRelay` writing to a fake sink, and through a bridge in front of an upstream that
 * writes the stream in random chunks.
 *
 * Cut points are judged against the SSE grammar (lines end in CRLF, LF or CR; a blank line ends an
 * event). One allowance: a blank line whose CR is the last byte so far may be held until the next
 * byte shows whether an LF follows.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { rawSettled } from '../../../test/support/http.js'
import type { Script } from '../../../test/support/upstream.js'
import { BodyRelay, lastEventEnd, type BodySink } from '../src/relay.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const LF = 10
const CR = 13

interface Grammar {
  /** Where a blank line ends, just after its terminator (a CRLF's LF included, and the CR before it). */
  cuts: Set<number>
  /** Where each event ends (a blank line after at least one other line), in order. */
  events: number[]
}

/** The SSE grammar's view of `bytes`. */
function grammar(bytes: Buffer): Grammar {
  const cuts = new Set<number>()
  const events: number[] = []
  let line = 0
  let fields = 0
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    if (b === LF && i > 0 && bytes[i - 1] === CR) {
      // The LF of a CRLF: the line ended at the CR already.
      if (cuts.has(i)) cuts.add(i + 1)
      continue
    }
    if (b !== LF && b !== CR) {
      line++
      continue
    }
    if (line === 0) {
      cuts.add(i + 1)
      if (fields > 0) events.push(i + 1)
      fields = 0
    } else fields++
    line = 0
  }
  return { cuts, events }
}

/** The end of the last event the splitter must have released once `received` has arrived. */
function mustRelease(received: Buffer): number {
  const { events } = grammar(received)
  let last = events.at(-1) ?? 0
  // The allowance: an event ended by a CR that is the last byte may wait for the next byte.
  if (last === received.length && received[last - 1] === CR) last = events.at(-2) ?? 0
  return last
}

// ---- Streams and chunkings -----------------------------------------------------------------

type Style = 'LF' | 'CRLF' | 'CR'
const EOL: Record<Style, string> = { LF: '\n', CRLF: '\r\n', CR: '\r' }

const text = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ':', '{', '"', '}', 'é', '😀', '\u2028', '0'), maxLength: 12 })
const fieldLine = fc.oneof(
  text.map((t) => `data: ${t}`),
  text.map((t) => `data:${t}`),
  fc.constantFrom('event: message_start', 'event: error', 'id: 7', 'retry: 100', ': ping', 'data', 'data: [DONE]'),
)
/** Events of 1-3 field lines and a blank line, sometimes an extra blank line, sometimes a last event left open. */
const eventLines = fc.tuple(fc.array(fc.array(fieldLine, { minLength: 1, maxLength: 3 }), { minLength: 0, maxLength: 6 }), fc.array(fieldLine, { maxLength: 2 }), fc.boolean()).map(
  ([events, open, extraBlank]) => {
    const lines: string[][] = events.map((e) => [...e, ''])
    if (extraBlank && lines.length > 0) lines[0]!.push('')
    return [...lines.flat(), ...open]
  },
)

/** A stream whose every line ends in `style` (or, `mixed`, in any ending line by line); the last open event has no blank line. */
function stream(mixed: boolean): fc.Arbitrary<Buffer> {
  const endings = mixed ? fc.array(fc.constantFrom<Style>('LF', 'CRLF', 'CR'), { minLength: 24, maxLength: 24 }) : fc.constantFrom<Style>('LF', 'CRLF', 'CR').map((s) => Array<Style>(24).fill(s))
  return fc.tuple(eventLines, endings).map(([lines, ends]) => Buffer.from(lines.map((l, i) => l + EOL[ends[i % ends.length]!]).join(''), 'utf8'))
}

/** A stream and the positions it is cut at (possibly inside a CRLF or a UTF-8 character). */
const chunked = (mixed: boolean) =>
  stream(mixed).chain((s) =>
    fc.tuple(fc.constant(s), fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, s.length - 1) }), { maxLength: 12 }).map((cuts) => cuts.filter((c) => c < s.length).sort((a, b) => a - b))),
  )

function split(s: Buffer, cuts: number[]): Buffer[] {
  const bounds = [0, ...cuts, s.length]
  return bounds.slice(1).map((end, i) => s.subarray(bounds[i]!, end)).filter((c) => c.length > 0)
}

/** Feeds chunks to `lastEventEnd` as the relay does; returns where the released bytes end after each chunk. */
function releaseAfterEach(chunks: Buffer[]): number[] {
  let before: [number, number] = [0, 0]
  let offset = 0
  let released = 0
  const out: number[] = []
  for (const c of chunks) {
    const end = lastEventEnd(c, before)
    if (end !== -1) released = offset + end
    before = c.length >= 2 ? [c[c.length - 2]!, c[c.length - 1]!] : [before[1], c[0]!]
    offset += c.length
    out.push(released)
  }
  return out
}

describe('lastEventEnd', () => {
  test('cuts only where a blank line ends, any line endings, any chunking', () => {
    fc.assert(
      fc.property(chunked(true), ([s, cuts]) => {
        const { cuts: valid } = grammar(s)
        for (const at of releaseAfterEach(split(s, cuts))) expect(at === 0 || valid.has(at), `cut at ${at} of ${JSON.stringify(s.toString('latin1'))}`).toBe(true)
      }),
      { numRuns: 5000 },
    )
  })

  test('releases every complete event as soon as its chunk arrives (one line-ending style per stream)', () => {
    fc.assert(
      fc.property(chunked(false), ([s, cuts]) => {
        const chunks = split(s, cuts)
        const released = releaseAfterEach(chunks)
        let received = 0
        chunks.forEach((c, i) => {
          received += c.length
          expect(released[i]!, JSON.stringify({ stream: s.toString('latin1'), cuts, after: i })).toBeGreaterThanOrEqual(mustRelease(s.subarray(0, received)))
        })
      }),
      { numRuns: 5000 },
    )
  })

  // Found by this file: with line endings mixed within a stream, a complete event was held back (and
  // lost if the provider died), depending on how the stream was chunked.
  test('a blank line "LF CR" followed by more data ends an event', () => {
    // Event "a" ends at 9 ("data: a" LF, then an empty line ended by CR); the splitter finds no end.
    expect(lastEventEnd(Buffer.from('data: a\n\rdata: b'), [0, 0])).toBe(9)
  })

  test('an earlier LF LF does not hide a later CR CR in the same chunk', () => {
    // Whole: released up to 9 only ("data: b" held). Split after 9: released up to 18. Same stream, other events.
    expect(lastEventEnd(Buffer.from('data: a\n\ndata: b\r\r'), [0, 0])).toBe(18)
  })
})

// ---- Through BodyRelay --------------------------------------------------------------------

const ERROR_EVENT = 'event: error\ndata: {"error":{"code":"stream_interrupted"}}\n\n'

/** Feeds `chunks` to a relay, then a clean end or a death; returns what the client got, and how much after each chunk. */
function throughRelay(chunks: Buffer[], ending: 'end' | 'die'): { out: Buffer; truncated: boolean; ended: boolean; releasedAfter: number[] } {
  const out: Buffer[] = []
  let bytes = 0
  let ended = false
  let truncated = false
  const sink: BodySink = {
    write(chunk) {
      out.push(Buffer.from(chunk))
      bytes += chunk.length
      return true
    },
    end: () => void (ended = true),
    fail: () => {},
  }
  const relay = new BodyRelay(sink, {
    sseErrorEvent: () => ERROR_EVENT,
    onFirstChunk: () => {},
    onChunk: undefined,
    onDone: undefined,
    onTruncated: () => void (truncated = true),
    clientGone: () => false,
  })
  const releasedAfter = chunks.map((c) => {
    relay.data(c)
    return bytes
  })
  if (ending === 'end') relay.end()
  else relay.error(new Error('provider died'))
  return { out: Buffer.concat(out), truncated, ended, releasedAfter }
}

describe('BodyRelay', () => {
  test('a clean end gives the stream byte for byte, any line endings, any chunking', () => {
    fc.assert(
      fc.property(chunked(true), ([s, cuts]) => {
        const { out, truncated, ended } = throughRelay(split(s, cuts), 'end')
        expect(truncated).toBe(false)
        expect(ended).toBe(true)
        expect(out.equals(s)).toBe(true)
      }),
      { numRuns: 3000 },
    )
  })

  test('a death gives the complete events, then the error event: the same for every chunking', () => {
    fc.assert(
      fc.property(chunked(false), ([s, cuts]) => {
        const chunks = split(s, cuts)
        const { out, truncated, ended, releasedAfter } = throughRelay(chunks, 'die')
        expect(truncated && ended).toBe(true)
        expect(out.subarray(out.length - ERROR_EVENT.length).toString()).toBe(ERROR_EVENT)
        const got = out.subarray(0, out.length - ERROR_EVENT.length)
        expect(s.subarray(0, got.length).equals(got), 'a prefix of the stream').toBe(true)
        expect(got.length === 0 || grammar(s).cuts.has(got.length), 'ends at a blank line').toBe(true)
        expect(got.length).toBeGreaterThanOrEqual(mustRelease(s))
        // And nothing complete waited for a later chunk.
        let received = 0
        chunks.forEach((c, i) => {
          received += c.length
          expect(releasedAfter[i]!).toBeGreaterThanOrEqual(mustRelease(s.subarray(0, received)))
        })
      }),
      { numRuns: 3000 },
    )
  })
})

// ---- Through a bridge ----------------------------------------------------------------------

const h = harness()
const K = testKey('sse1')

/** Writes the stream in `chunks`, each handed to the socket before the next, then ends or dies without ending. */
function chunkedUpstream(chunks: Buffer[], ending: 'end' | 'die'): Script {
  return async (_seen, res) => {
    res.socket?.setNoDelay(true)
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    for (const c of chunks) {
      await new Promise<void>((resolve) => res.write(c, () => resolve()))
      await new Promise<void>((r) => setImmediate(r))
    }
    if (ending === 'end') res.end()
    else res.socket?.destroy()
  }
}

describe('through a bridge', () => {
  test('the client gets the same bytes (clean end) or the same complete events and an error event (death)', async () => {
    const b = await h.start({ providers: { openai: { keys: [K], baseURL: h.up.url } } })
    await fc.assert(
      fc.asyncProperty(chunked(false), fc.constantFrom<'end' | 'die'>('end', 'die'), async ([s, cuts], ending) => {
        h.up.handle(chunkedUpstream(split(s, cuts), ending))
        const r = await rawSettled(b.url, '/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":true}' })
        expect(r.status).toBe(200)
        expect(r.ended).toBe('end')
        if (ending === 'end') {
          expect(r.body.equals(s)).toBe(true)
          return
        }
        // Chat Completions ends a broken stream with a data-only error chunk, as OpenAI does.
        const m = /(?:event: error\n)?data: ([^\r\n]*)\n\n$/.exec(r.body.toString('latin1'))
        expect(m, 'ends with an error event').not.toBeNull()
        expect(JSON.parse(m![1]!)).toMatchObject({ error: { code: 'stream_interrupted' } })
        const got = r.body.subarray(0, r.body.length - Buffer.byteLength(m![0]!, 'latin1'))
        expect(s.subarray(0, got.length).equals(got), 'a prefix of the stream').toBe(true)
        expect(got.length === 0 || grammar(s).cuts.has(got.length), 'ends at a blank line').toBe(true)
        expect(got.length).toBeGreaterThanOrEqual(mustRelease(s))
      }),
      { numRuns: 120 },
    )
  })
})
