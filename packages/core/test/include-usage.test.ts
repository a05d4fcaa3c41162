import { describe, expect, test } from 'vitest'
import { withIncludeUsage } from '../src/include-usage.js'

const asked = (body: string) => withIncludeUsage(Buffer.from(body))?.toString('utf8')

describe('withIncludeUsage', () => {
  test('adds stream_options.include_usage to a streaming Chat Completions body, keeping the client bytes', () => {
    const body = '{\n  "model": "gpt-4o-mini",\n  "stream": true,\n  "messages": [{"role": "user", "content": "Hi"}],\n  "n": 12345678901234567890\n}'
    const out = asked(body)!
    expect(out).toBe('{"stream_options":{"include_usage":true},' + body.slice(1))
    expect(JSON.parse(out)).toMatchObject({ stream: true, stream_options: { include_usage: true }, model: 'gpt-4o-mini' })
  })

  test('keeps other stream_options, and fills a null one', () => {
    expect(JSON.parse(asked('{"stream":true,"stream_options":{"continuous_usage_stats":true},"model":"m"}')!)).toEqual({
      stream: true,
      stream_options: { continuous_usage_stats: true, include_usage: true },
      model: 'm',
    })
    expect(JSON.parse(asked('{"stream":true,"stream_options":null}')!)).toEqual({ stream: true, stream_options: { include_usage: true } })
  })

  test('leaves alone what is not a streaming request lacking it', () => {
    for (const body of [
      '{"model":"m","messages":[]}',
      '{"model":"m","stream":false}',
      '{"model":"m","stream":"true"}',
      '{"stream":true,"stream_options":{"include_usage":true}}',
      // The client said no.
      '{"stream":true,"stream_options":{"include_usage":false}}',
      '{"stream":true,"stream_options":"yes"}',
      '["stream", true]',
      '{"stream": true',
      'stream=true',
      '',
    ]) {
      expect(asked(body), body).toBeUndefined()
    }
  })
})
