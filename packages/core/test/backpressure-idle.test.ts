import { describe, expect, test } from 'vitest'
import { open } from '../../../test/support/http.js'
import { bulk } from '../../../test/support/upstream.js'
import { sleep } from '../../../test/support/wait.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

// `timeouts.bodyIdleMs` measures the provider's silence, not the client's: a client that stops reading
// pauses the provider (backpressure), and that pause must never be mistaken for a stalled provider.
const h = harness()
const K1 = testKey('bi1')
const CHUNK = Buffer.alloc(64 * 1024, 'z')
const CHUNKS = 128 // 8 MiB: far more than the socket buffers between the three parties

describe('a slow client is not a silent provider', () => {
  test('a client that stops reading for longer than bodyIdleMs still gets every byte', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, timeouts: { bodyIdleMs: 200 } })
    h.up.handle(bulk(CHUNK, CHUNKS))
    const { req, response } = open(b.url, '/openai/v1/files/file-1/content')
    req.end()
    const res = await response
    let received = 0
    res.on('data', (c: Buffer) => (received += c.length))
    res.pause()
    // Three idle periods with the client not reading at all.
    await sleep(700)
    const ended = new Promise<void>((resolve, reject) => {
      res.on('end', resolve)
      res.on('error', reject)
      res.on('aborted', () => reject(new Error('aborted')))
    })
    res.resume()
    await ended
    expect(received).toBe(CHUNK.length * CHUNKS)
    const [record] = await b.waitForRecords(1)
    expect(record!.outcome).toBe('ok')
  })
})
