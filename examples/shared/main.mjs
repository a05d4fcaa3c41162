// Running an example as a command: `node server.mjs`.
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { banner } from './banner.mjs'

/**
 * Runs the example whose module URL is `moduleURL` only when it is the script node was started
 * with, not when the demo or a test imports it: starts it on PORT (default 3000, 0 picks a free
 * port) and HOST (default 127.0.0.1), prints the banner, and stops on Ctrl-C or SIGTERM.
 */
export function runIfMain(moduleURL, name, start) {
  if (!process.argv[1] || moduleURL !== pathToFileURL(realpathSync(process.argv[1])).href) return
  main(name, start).catch((err) => {
    // Option errors name the option, never the key; other errors carry no key either.
    console.error(`Could not start: ${err.message}`)
    process.exit(1)
  })
}

async function main(name, start) {
  const port = Number(process.env.PORT || 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer from 0 to 65535, got '${process.env.PORT}'`)
  const app = await start({ port, host: process.env.HOST || '127.0.0.1' })
  console.log(banner(name, app))
  const stop = () => app.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
