/**
 * A client that pipelines requests and leaves while the answer to the first is still going: Node queues
 * the second response behind the first and, when the connection closes, never emits 'close' on it. Found
 * by the fuzz run (test/fuzz): the bridge counted that request in flight forever, so `close()` never
 * resolved, its record was never emitted and its upstream request was never aborted.
 */
import { connect } from 'node:net'
import { expect, test } from 'vitest'
import { gate, within } from '../../../test/support/wait.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('pl1')

test('the queued request ends as client_aborted, its upstream request is aborted, and close() resolves', async () => {
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
  const hold = gate()
  // The first answer is held, so the second (served at once) waits in Node's queue behind it.
  h.up.queue(async (_seen, res) => {
    await hold.promise
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"first":true}')
  })
  const body = '{"n":1}'
  const request = (n: number) => `POST /openai/v1/chat/completions?n=${n} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`
  const socket = connect(b.port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(request(1) + request(2))
  await h.up.waitFor(2)
  socket.destroy()
  const records = await b.waitForRecords(2)
  expect(records.map((r) => r.outcome)).toEqual(['client_aborted', 'client_aborted'])
  await within(
    Promise.all(h.up.requests.map((seen) => seen.closed)),
    2000,
    'both upstream requests closed',
  )
  hold.open()
  await within(b.bridge.close(), 2000, 'bridge.close()')
})
