import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { ResolvedProvider } from './options.js'

/**
 * Bring your own key: a request that carries its own provider credential, on a provider whose `byok`
 * mode allows it (a credential may travel in the query: Gemini's `key=`), runs one attempt with that credential and never touches the pool. `req` is what a
 * `byok` function is asked about (absent for in-process callers, which are always centralized).
 */
export function usesOwnCredential(config: ResolvedProvider, headers: IncomingHttpHeaders, search: string, req: IncomingMessage | undefined): boolean {
  if (!config.dialect.hasCredential(headers, search)) return false
  const mode = config.byok
  if (mode === 'auto') return true
  if (mode === false || req === undefined) return false
  const decision: unknown = mode(req, config.name)
  if (decision !== null && typeof decision === 'object' && typeof (decision as Promise<unknown>).then === 'function') {
    ;(decision as Promise<unknown>).then(undefined, () => {})
    throw new TypeError('the byok function must return a boolean, not a promise')
  }
  return decision === true
}
