import { Agent, createServer, request, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http'
import { expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { pipelined, postBytes } from '../../../test/support/pipeline.js'
import { gate, sleep, until, within } from '../../../test/support/wait.js'
import { onRequestEnd } from '../src/request-end.js'

const t = fixture()

interface Ended {
  url: string
  calls: number
  res: ServerResponse
}

/** A server whose handler registers onRequestEnd for every request, then runs `then`. */
async function serving(then: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string; ended: Ended[] }> {
  const ended: Ended[] = []
  const handler: RequestListener = (req, res) => {
    const entry: Ended = { url: req.url ?? '', calls: 0, res }
    onRequestEnd(req, res, () => {
      entry.calls++
      ended.push(entry)
    })
    then(req, res)
  }
  return { base: await t.serve(createServer(handler)), ended }
}

it('ends an exchange once, when its response is sent', async () => {
  const { base, ended } = await serving((req, res) => req.resume().on('end', () => res.end('ok')))
  const res = await fetch(`${base}/one`)
  expect(await res.text()).toBe('ok')
  await until(() => ended.length === 1)
  await sleep(20)
  expect(ended.map((e) => [e.url, e.calls])).toEqual([['/one', 1]])
})

it('ends a pipelined response still queued when the client hangs up, once, and marks it destroyed', async () => {
  const { base, ended } = await serving((req) => req.resume())
  const client = await pipelined(base, postBytes('/first') + postBytes('/second'))
  await sleep(20)
  expect(ended).toHaveLength(0)
  client.hangUp()
  await until(() => ended.length === 2, 5000, () => `2 ends, got ${ended.length}`)
  await sleep(20)
  expect(ended.map((e) => [e.url, e.calls]).sort()).toEqual([
    ['/first', 1],
    ['/second', 1],
  ])
  // Whoever would answer the queued one next sees it gone, as it would a response that held the socket.
  expect(ended.every((e) => e.res.destroyed)).toBe(true)
})

it('ends an exchange whose connection closed before it got here (a slow host middleware ran first)', async () => {
  const ended: string[] = []
  const arrived = gate()
  const server = createServer((req, res) => {
    arrived.open()
    // The client is gone by the time the exchange is handed over.
    req.socket.once('close', () => setTimeout(() => onRequestEnd(req, res, () => ended.push(req.url ?? '')), 10))
  })
  const late = await t.serve(server)
  const client = await pipelined(late, postBytes('/late'))
  await arrived.promise
  client.hangUp()
  await until(() => ended.length === 1, 5000, () => 'the late exchange ended')
  expect(ended).toEqual(['/late'])
})

it('leaves no listener on a keep-alive connection for the requests it has served', async () => {
  const counts: number[] = []
  const sockets = new Set<unknown>()
  const { base } = await serving((req, res) => {
    sockets.add(req.socket)
    counts.push(req.socket.listenerCount('close'))
    req.resume().on('end', () => res.end('ok'))
  })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  try {
    for (let i = 0; i < 15; i++) {
      await within(
        new Promise<void>((resolve, reject) => {
          request(`${base}/n${i}`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject).end()
        }),
        5000,
        `request ${i}`,
      )
    }
  } finally {
    agent.destroy()
  }
  // One connection served them all, and each request found as many listeners as the first did.
  expect(sockets.size).toBe(1)
  expect(counts).toHaveLength(15)
  expect(new Set(counts).size).toBe(1)
})

it('ends every one of many pipelined requests when the client hangs up, with no listener-leak warning', async () => {
  const warnings: Error[] = []
  const onWarning = (w: Error): void => void warnings.push(w)
  process.on('warning', onWarning)
  try {
    const { base, ended } = await serving((req) => req.resume())
    const client = await pipelined(base, Array.from({ length: 30 }, (_, i) => postBytes(`/r${i}`)).join(''))
    await sleep(50)
    client.hangUp()
    await until(() => ended.length === 30, 5000, () => `30 ends, got ${ended.length}`)
    // Warnings are emitted on the next tick.
    await sleep(20)
    expect(ended.every((e) => e.calls === 1)).toBe(true)
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning')
  } finally {
    process.off('warning', onWarning)
  }
})
