// The API a user of any mount needs, one list: `@aibridge/core` adds the node-handler types to it, and
// each framework adapter re-exports exactly this (so `NextFunction` from an adapter is its framework's).
export { Bridge, createBridge } from './bridge.js'
export type { BridgeFetch } from './fetch-front.js'
export type { Authenticate, Principal } from './authenticate.js'
export { maskKey, fingerprint } from './mask.js'
export { MemoryKeyStore, mergeMarks } from './key-store.js'
export type { KeyFailure, KeyMark, KeyStateStore } from './key-store.js'
export type { KeyOrder, KeyState } from './key-pool.js'
export type {
  BridgeOptions,
  ByokMode,
  CooldownDefaults,
  KeyOptions,
  ProviderOptions,
  TimeoutOptions,
} from './options.js'
export { DEFAULT_BODY_LIMIT } from './options.js'
export type { InterceptionRecord, Outcome, TokenUsage } from './record.js'
export type { BridgeObserver, KeyMarkedEvent, KeyResetEvent, PoolExhaustedEvent } from './observer.js'
export type { Logger } from './logger.js'
export { statusPage } from './status-page.js'
export type { StatusPageHandler, StatusPageOptions, StatusSnapshot } from './status-page.js'
export type { ProviderType } from './providers/index.js'
export { AibridgeArgumentError, AibridgeError, AibridgeKeyNotFoundError, AibridgeOptionError } from './errors.js'
