import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.base.js'

// Three entry points (`@aibridge/core`, `/api` for the adapters' re-export, `/adapter`) share one copy of the engine in
// both formats: splitting keeps the CommonJS build from bundling it twice.
export default defineConfig({ ...packageBuild, entry: ['src/index.ts', 'src/api.ts', 'src/adapter.ts'], splitting: true })
