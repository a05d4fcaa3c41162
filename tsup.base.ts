import type { Options } from 'tsup'

/** How every @aibridge package is built: ESM and CJS for Node 20, with declarations for both. */
export const packageBuild = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
} satisfies Options
