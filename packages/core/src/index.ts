export * from './api.js'
// For serving a bridge from node:http or writing an adapter (`handle`, `dispatch`).
export type { DispatchOptions, HandleOptions, NextFunction } from './bridge.js'
export type { BridgeResponse } from './respond.js'
