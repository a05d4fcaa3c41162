/**
 * Whether the machine's Redis (127.0.0.1:6379) is there for the tests that need it. Without it they
 * skip, saying so; with CI=true (.ci/run, which starts redis-server) they fail instead.
 */
import { Socket } from 'node:net'

/** Whether something answers PING with PONG at host:port within a second. */
export function answersPing(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    let reply = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.on('data', (c: Buffer) => {
      reply += c.toString('latin1')
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
    socket.connect(port, host, () => socket.write('PING\r\n'))
  })
}

/** Says why Redis tests cannot run: a visible skip, or (CI=true) a failure. Returns false. */
export function skipOrFail(what: string): false {
  if (process.env.CI === 'true') throw new Error(`${what}; CI=true makes the Redis tests mandatory (.ci/run starts redis-server)`)
  console.warn(`\n  ${what}: these Redis tests are SKIPPED (CI=true makes them fail instead)\n`)
  return false
}

export const REDIS_URL = 'redis://127.0.0.1:6379'

/** The machine's Redis on 6379 answers. */
export const redisAvailable = (await answersPing(6379)) || skipOrFail('no Redis answers on 127.0.0.1:6379')
