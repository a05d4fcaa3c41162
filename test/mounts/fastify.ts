import { aibridge } from '@aibridge/fastify'
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import type { Mount } from './types.js'

/**
 * Fastify 5: `app.register(aibridge, { bridge, prefix })`. Fastify's own JSON parser is always there
 * for the host's routes (`hostParser` changes nothing); under the prefix the bridge reads the body
 * itself within its own limit, so `bodyLimit` is not needed either.
 */
export const fastifyMount: Mount = {
  name: 'fastify',
  async start(bridge, { prefix }) {
    // Streams held open by a test must not keep close() waiting.
    const app = Fastify({ forceCloseConnections: true })
    app.get(`${prefix ?? ''}/_host/ping`, async () => ({ host: 'fastify' }))
    await app.register(aibridge, { bridge, prefix: prefix ?? '' })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    return {
      baseURL: `http://127.0.0.1:${port}${prefix ?? ''}`,
      close: () => app.close(),
    }
  },
}
