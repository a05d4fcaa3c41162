import { express4Mount, expressMount } from './express.js'
import { fastifyMount } from './fastify.js'
import { koaMount } from './koa.js'
import { nodeMount } from './node.js'
import type { Mount } from './types.js'

/** Every way the suites serve a bridge: the plain Node handler and each adapter. */
export const mounts: Mount[] = [nodeMount, expressMount, express4Mount, koaMount, fastifyMount]
