// The start() every example exports: the providers, then the app, and one close() for both.
import { providersFromEnv } from './providers.mjs'
import { logRecord } from './record-log.mjs'

/**
 * Starts an example app. `serve({ providers, onRecord, port, host })` builds the app and listens,
 * resolving with `{ port, bridge, close }` (and closing what it made if it fails); `startSimulator`
 * comes from @aibridge/simulator.
 *
 * Options: `providers` overrides the environment (the demo passes its own keys and the simulator's
 * URLs); `onRecord` receives every request's record (default: one log line). Resolves with
 * `{ url, port, bridge, simulator, close }`; `simulator` is null with real providers.
 */
export async function startExample({ serve, startSimulator }, { port = 0, host = '127.0.0.1', providers, onRecord, env = process.env } = {}) {
  const upstream = providers ? { providers, simulator: null } : await providersFromEnv(env, startSimulator)
  let app
  try {
    app = await serve({ providers: upstream.providers, onRecord: onRecord ?? logRecord, port, host })
  } catch (err) {
    await upstream.simulator?.close()
    throw err
  }

  let closing
  const close = () =>
    (closing ??= (async () => {
      await app.close()
      await upstream.simulator?.close()
    })())

  // A wildcard address is reached through loopback (`::` is dual-stack); an IPv6 literal goes in
  // brackets in a URL.
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  const shownHost = reachable.includes(':') ? `[${reachable}]` : reachable
  return { url: `http://${shownHost}:${app.port}`, port: app.port, bridge: app.bridge, simulator: upstream.simulator, close }
}
