// Types of fuzz.mjs (plain JavaScript, so that node runs it on the built packages) for its vitest slice.
export interface FuzzFailure {
  kind: string
  [detail: string]: unknown
}

export interface FuzzSummary {
  seed: number
  requests: number
  connections: number
  durationMs: number
  perMount: Record<string, { requests: number; answers: Record<string, number> }>
  /** How each request was answered: mock, bridge, host, parser, none, ... */
  answers: Record<string, number>
  statuses: Record<string, number>
  records: number
  logLines: number
  leakHits: number
  rssBeforeMB: number
  rssAfterMB: number
  heapBeforeMB: number
  heapAfterMB: number
  failures: { total: number; byKind: Record<string, number>; samples: FuzzFailure[] }
}

export interface FuzzOptions {
  /** @default 100_000 */
  requests?: number
  /** @default 42 */
  seed?: number
  /** Connections in flight at once. @default 16 */
  concurrency?: number
  /** @default all four: node, express, koa, fastify */
  mounts?: string[]
  onProgress?: (requests: number) => void
}

export const POOL_KEYS: string[]
export function runFuzz(options?: FuzzOptions): Promise<FuzzSummary>
