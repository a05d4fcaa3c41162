import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { rateLimited, type Upstream } from '../../../test/support/upstream.js'

export const A1 = 'sk-ant-test-PRIMARY-aaaa1111'
export const A2 = 'sk-ant-test-SECOND-bbbb2222'
export const O1 = 'sk-proj-test-PRIMARY-cccc3333'
export const O2 = 'sk-proj-test-SECOND-dddd4444'

/** Bridge options for both providers against one scripted upstream. */
export function providers(up: Upstream) {
  return {
    anthropic: { keys: [A1, A2], baseURL: up.url },
    openai: { keys: [O1, O2], baseURL: up.url },
  }
}

/** Listens on a real socket and returns `http://127.0.0.1:PORT`. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** A 429 the way Anthropic sends it, with Retry-After: 30. */
export const anthropic429 = rateLimited({ 'retry-after': '30' }, 'anthropic')
