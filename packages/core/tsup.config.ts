import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base.js'

// Two entry points (`@aibridge/core` and `@aibridge/core/adapter`) share one copy of the engine in
// both formats: splitting keeps the CommonJS build from bundling it twice.
export default defineConfig({ ...packageBuild, entry: ['src/index.ts', 'src/adapter.ts'], splitting: true })
