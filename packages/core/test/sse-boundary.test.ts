/** Where an SSE stream may be cut so that the client holds only whole events. */
import { describe, expect, test } from 'vitest'
import { lastEventEnd } from '../src/relay.js'

const NONE: [number, number] = [0, 0]
const b = (s: string) => Buffer.from(s, 'latin1')
const bytes = (s: string): [number, number] => [s.charCodeAt(0), s.charCodeAt(1)]

describe('lastEventEnd', () => {
  test.each([
    ['LF LF', 'data: a\n\ndata: b', 9],
    ['two events, the last complete', 'data: a\n\ndata: b\n\n', 18],
    ['CRLF CRLF', 'data: a\r\n\r\ndata: b', 11],
    ['LF CRLF', 'data: a\n\r\ndata: b', 10],
    ['CR CR', 'data: a\r\rdata: b', 9],
    ['no blank line yet', 'event: x\ndata: {"a":', -1],
    ['CRLF lines, no blank line', 'event: x\r\ndata: 1\r\n', -1],
    ['empty', '', -1],
  ])('%s', (_name, text, end) => {
    expect(lastEventEnd(b(text), NONE)).toBe(end)
  })

  test.each([
    ['LF | LF', 'a\n', '\ndata: b', 1],
    ['CRLF CR | LF', '\n\r', '\ndata: b', 1],
    ['CR | CR', 'a\r', '\rdata: b', 1],
    ['LF | data', 'a\n', 'data: b', -1],
  ])('a blank line split across chunks: %s', (_name, before, chunk, end) => {
    expect(lastEventEnd(b(chunk), bytes(before))).toBe(end)
  })
})
