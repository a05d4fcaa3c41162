import { rm } from 'node:fs/promises'
import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base.js'

export default defineConfig({
  ...packageBuild,
  entry: ['src/index.ts', 'src/cli.ts'],
  // The CLI is a program, not an API: only the library gets declarations, and the command runs the
  // ESM build (bin/aibridge-simulator.js), so its CommonJS copy is not shipped.
  dts: { entry: 'src/index.ts' },
  async onSuccess() {
    await Promise.all(['dist/cli.cjs', 'dist/cli.cjs.map'].map((f) => rm(f, { force: true })))
  },
})
