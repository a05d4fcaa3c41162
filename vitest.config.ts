import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests run against the sources; the built packages are checked by `pnpm build` and the examples.
    alias: {
      '@aibridge/core/adapter': fileURLToPath(new URL('./packages/core/src/adapter.ts', import.meta.url)),
      '@aibridge/core/api': fileURLToPath(new URL('./packages/core/src/api.ts', import.meta.url)),
      '@aibridge/core': pkg('core'),
      '@aibridge/express': pkg('express'),
      '@aibridge/koa': pkg('koa'),
      '@aibridge/fastify': pkg('fastify'),
      '@aibridge/simulator': pkg('simulator'),
      '@aibridge/redis': pkg('redis'),
      '@aibridge/prometheus': pkg('prometheus'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
