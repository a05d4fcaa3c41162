/**
 * Reading one field out of JSON bytes without parsing the document: the usage reader looks at the
 * head or tail of bodies and stream events too large (or too many) to parse whole. A match counts
 * only as a real key: `"key"` whose opening quote is not escaped, then `:`, so text that merely
 * mentions the key (JSON-encoded as `\"key\"`) is never taken for it.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const OPEN = 0x7b
const CLOSE = 0x7d

/** Usage objects are a few hundred bytes; a longer match is not one. */
const OBJECT_MAX = 16 * 1024
/** Model names are short; a longer string is not one. */
const STRING_MAX = 256

/**
 * Keys sit near the ends of what is scanned (the model in an answer's first few hundred bytes, usage
 * in its last few hundred): a plain loop over this many bytes finds them sooner than a call into
 * Buffer's native search, which takes over beyond it.
 */
const NEAR = 512

/** `buf.lastIndexOf(needle, from)`. */
function lastIndex(buf: Buffer, needle: Buffer, from: number): number {
  const first = needle[0]
  const n = needle.length
  const stop = Math.max(0, from - NEAR)
  outer: for (let i = Math.min(from, buf.length - n); i >= stop; i--) {
    if (buf[i] !== first) continue
    for (let j = 1; j < n; j++) if (buf[i + j] !== needle[j]) continue outer
    return i
  }
  return stop === 0 ? -1 : buf.lastIndexOf(needle, stop - 1)
}

/** `buf.indexOf(needle, from)`. */
function firstIndex(buf: Buffer, needle: Buffer, from: number): number {
  const first = needle[0]
  const n = needle.length
  const last = buf.length - n
  const stop = Math.min(last, from + NEAR)
  outer: for (let i = from; i <= stop; i++) {
    if (buf[i] !== first) continue
    for (let j = 1; j < n; j++) if (buf[i + j] !== needle[j]) continue outer
    return i
  }
  return stop >= last ? -1 : buf.indexOf(needle, stop + 1)
}

/** ASCII bytes as a string without UTF-8 decoding; anything else decoded as UTF-8. */
function text(buf: Buffer, start: number, end: number, ascii: boolean): string {
  return buf.toString(ascii ? 'latin1' : 'utf8', start, end)
}

/** A needle for `lastObject` / `firstString`, built once. */
export function keyNeedle(key: string): Buffer {
  return Buffer.from(`"${key}"`, 'latin1')
}

/** True when the byte at `at` is preceded by an odd run of backslashes (escaped inside a string). */
function escaped(buf: Buffer, at: number): boolean {
  let n = 0
  for (let i = at - 1; i >= 0 && buf[i] === BACKSLASH; i--) n++
  return n % 2 === 1
}

function skipSpace(buf: Buffer, i: number): number {
  for (;;) {
    const b = buf[i]
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return i
    i++
  }
}

/** Where the value of the key matched at `at` starts, or -1 when the match is not a key. */
function valueStart(buf: Buffer, at: number, needle: Buffer): number {
  if (escaped(buf, at)) return -1
  const colon = skipSpace(buf, at + needle.length)
  if (buf[colon] !== COLON) return -1
  return skipSpace(buf, colon + 1)
}

// Whether the bytes `objectEnd` last went over were all ASCII.
let objectAscii = true

/** The index just past the object that opens at `start`, or -1 when it does not close within the limit. */
function objectEnd(buf: Buffer, start: number): number {
  const stop = Math.min(buf.length, start + OBJECT_MAX)
  let depth = 0
  let inString = false
  let high = 0
  for (let i = start; i < stop; i++) {
    const b = buf[i]!
    high |= b
    if (inString) {
      if (b === BACKSLASH) i++
      else if (b === QUOTE) inString = false
    } else if (b === QUOTE) inString = true
    else if (b === OPEN) depth++
    else if (b === CLOSE && --depth === 0) {
      objectAscii = high < 0x80
      return i + 1
    }
  }
  return -1
}

/**
 * The object value of the last occurrence of the key (`needle` from `keyNeedle`) in `buf` that
 * closes within `buf` and parses; undefined when there is none. Last, because the providers put
 * the top-level usage after the content, which may itself hold the key.
 */
export function lastObject(buf: Buffer, needle: Buffer): Record<string, unknown> | undefined {
  for (let from = buf.length - needle.length; from >= 0; ) {
    const at = lastIndex(buf, needle, from)
    if (at === -1) return undefined
    from = at - 1
    const start = valueStart(buf, at, needle)
    if (start === -1 || buf[start] !== OPEN) continue
    const end = objectEnd(buf, start)
    if (end === -1) continue
    try {
      const value: unknown = JSON.parse(text(buf, start, end, objectAscii))
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>
    } catch {
      // A match that only looked like the key: keep looking further back.
    }
  }
  return undefined
}

/** The string value of the key at the first (`last` false) or last occurrence that is a whole string. */
export function stringValue(buf: Buffer, needle: Buffer, last = false): string | undefined {
  for (let from = last ? buf.length - needle.length : 0; from >= 0 && from < buf.length; ) {
    const at = last ? lastIndex(buf, needle, from) : firstIndex(buf, needle, from)
    if (at === -1) return undefined
    from = last ? at - 1 : at + needle.length
    const start = valueStart(buf, at, needle)
    if (start === -1 || buf[start] !== QUOTE) continue
    const stop = Math.min(buf.length, start + 1 + STRING_MAX)
    let plain = true
    for (let i = start + 1; i < stop; i++) {
      const b = buf[i]!
      if (b >= 0x80) plain = false
      if (b === BACKSLASH) {
        plain = false
        i++
      } else if (b === QUOTE) {
        // No escape and nothing but ASCII: the bytes are the string.
        if (plain) {
          if (i > start + 1) return buf.toString('latin1', start + 1, i)
          break
        }
        try {
          const value: unknown = JSON.parse(buf.toString('utf8', start, i + 1))
          if (typeof value === 'string' && value !== '') return value
        } catch {
          // Not a JSON string after all.
        }
        break
      }
    }
  }
  return undefined
}
