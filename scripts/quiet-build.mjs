// Builds every package and prints nothing unless the build fails (then everything it printed), so a
// command that builds first (the demo) shows its own output first.
import { spawnSync } from 'node:child_process'

const started = Date.now()
// The pnpm that runs this script (npx pnpm@10 demo puts none on the PATH), else the one on the PATH.
const execpath = process.env.npm_execpath
const [command, args] = execpath && /pnpm/.test(execpath) ? [process.execPath, [execpath, '-s', 'build']] : ['pnpm', ['-s', 'build']]
const run = spawnSync(command, args, { encoding: 'utf8', shell: process.platform === 'win32' })
if (run.status !== 0) {
  process.stderr.write(run.stdout + run.stderr)
  process.stderr.write(`\nbuild failed (exit ${run.status ?? run.signal})\n`)
  process.exit(run.status ?? 1)
}
console.log(`built the packages in ${((Date.now() - started) / 1000).toFixed(1)} s`)
