import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base.js'

export default defineConfig({
  ...packageBuild,
  entry: ['src/index.ts', 'src/cli.ts'],
  // The CLI is a program, not an API: only the library gets declarations.
  dts: { entry: 'src/index.ts' },
})
