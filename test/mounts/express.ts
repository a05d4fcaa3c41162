import { aibridge } from '@aibridge/express'
import express from 'express'
import http from 'node:http'
import { createRequire } from 'node:module'
import { closeServer, listen } from '../support/http.js'
import type { Mount } from './types.js'

// Express 4 is installed as the `express4` alias in @aibridge/express's devDependencies only, so it is
// resolved from there; its API is the same for everything used here.
const express4 = createRequire(new URL('../../packages/express/package.json', import.meta.url))('express4') as typeof express

function expressMountFor(name: string, createApp: typeof express): Mount {
  return {
    name,
    async start(bridge, { prefix, hostParser, bodyLimit }) {
      const app = createApp()
      // body-parser answers bodies over its own limit (100 kB by default) with its own HTML 413 before aibridge
      // runs; a host limit well above the bridge's leaves the provider-shaped 413 to the bridge.
      if (hostParser) app.use(createApp.json({ limit: 2 * bodyLimit }))
      if (prefix === null) app.use(aibridge(bridge))
      else app.use(prefix, aibridge(bridge))
      // Registered after aibridge: reached only when it calls next().
      app.get(`${prefix ?? ''}/_host/ping`, (_req, res) => {
        res.json({ host: name })
      })
      const server = http.createServer(app)
      return { baseURL: `${await listen(server)}${prefix ?? ''}`, close: () => closeServer(server) }
    },
  }
}

/** Express 5: `app.use(prefix, aibridge(bridge))`, with `express.json()` in front when the host parses bodies. */
export const expressMount: Mount = expressMountFor('express', express)

/** The same app on Express 4. */
export const express4Mount: Mount = expressMountFor('express4', express4)
