export { redisStore, RedisKeyStore, RedisCommandTimeoutError } from './store.js'
export type { RedisStoreOptions } from './options.js'
