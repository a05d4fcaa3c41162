import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

/**
 * The Lua scripts that change shared state. Each runs atomically on the node that holds the
 * provider's slot (every key it touches has the provider's hash tag, see Layout). A change gets a
 * version that only grows, even across a Redis restart that lost everything: Redis time in
 * microseconds, or one more than the last version given. Versions are formatted with %.0f: Lua's
 * own number formatting keeps 14 digits and would round them.
 */

const VERSION = `
local function nextVersion(counter)
  local t = redis.call('TIME')
  local v = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', counter) or '0')
  if v <= last then v = last + 1 end
  local s = string.format('%.0f', v)
  redis.call('SET', counter, s)
  return s
end
local function deadline(u)
  if u == 'inf' then return math.huge end
  return tonumber(u)
end
`

/**
 * Writes a mark unless the current one is stronger, by the rule of core's mergeMarks: an expired
 * mark loses to anything, permanent beats temporary, and of two of the same state the later
 * deadline wins (a tie keeps the current one). The entry expires at the mark's deadline, and a
 * permanent mark with no deadline keeps no TTL. Announces the change; returns the winner's
 * version and mark (version "0" when there is none).
 * KEYS: entry, index, version. ARGV: keyId, state, deadline, mark JSON, now, channel, provider, at.
 */
const MARK = `${VERSION}
local now = tonumber(ARGV[5])
local nextUntil = deadline(ARGV[3])
local prev = redis.call('HMGET', KEYS[1], 's', 'u', 'v', 'm')
local live = prev[1] and deadline(prev[2]) > now
if live then
  local keep
  if prev[1] ~= ARGV[2] then keep = prev[1] == 'permanent' else keep = nextUntil <= deadline(prev[2]) end
  if keep then return {prev[3], prev[4]} end
end
if nextUntil <= now then return {'0'} end
local v = nextVersion(KEYS[3])
redis.call('HSET', KEYS[1], 's', ARGV[2], 'u', ARGV[3], 'a', ARGV[8], 'v', v, 'm', ARGV[4])
if ARGV[3] == 'inf' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[6], cjson.encode({p = ARGV[7], k = ARGV[1], v = v, m = ARGV[4]}))
return {v, ARGV[4]}
`

/**
 * Forgets a key's mark and announces it. With a time in ARGV[4], only a mark seen at or before
 * then is forgotten (a reset made during an outage must not undo a failure seen after it); the
 * mark that stays is returned instead.
 * KEYS: entry, index, version. ARGV: keyId, channel, provider, before ('' for always).
 */
const CLEAR = `${VERSION}
if ARGV[4] ~= '' then
  local prev = redis.call('HMGET', KEYS[1], 'a', 'v', 'm')
  if prev[1] and tonumber(prev[1]) > tonumber(ARGV[4]) then return {prev[2], prev[3]} end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
local v = nextVersion(KEYS[3])
redis.call('PUBLISH', ARGV[2], cjson.encode({p = ARGV[3], k = ARGV[1], v = v}))
return {v}
`

/**
 * A provider's marks as of one moment: whether Redis holds any state for the provider (its version
 * counter exists; not after a restart that lost the data), the snapshot's version (no earlier change
 * is missing from it), the index as it stands, then id, version, mark for each listed entry that
 * exists. Ids whose entry has expired leave the index.
 * KEYS: index, version, entries. ARGV: the entries' key ids.
 */
const LOAD = `
local t = redis.call('TIME')
local s = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = redis.call('GET', KEYS[2])
if last and tonumber(last) > s then s = tonumber(last) end
local out = {last and '1' or '0', string.format('%.0f', s), redis.call('SMEMBERS', KEYS[1])}
for i = 3, #KEYS do
  local e = redis.call('HMGET', KEYS[i], 'v', 'm')
  if e[1] then
    out[#out + 1] = ARGV[i - 2]
    out[#out + 1] = e[1]
    out[#out + 1] = e[2]
  else
    redis.call('SREM', KEYS[1], ARGV[i - 2])
  end
end
return out
`

export interface Script {
  readonly source: string
  readonly sha: string
}

// redis.replicate_commands(): scripts that read TIME and then write need effect replication, the
// only mode since Redis 7 and opt-in before it.
function script(body: string): Script {
  const source = `redis.replicate_commands()\n${body}`
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

export const markScript = script(MARK)
export const clearScript = script(CLEAR)
export const loadScript = script(LOAD)

/**
 * Runs a script by its SHA; a node that does not have it (NOSCRIPT: a restart, SCRIPT FLUSH, a
 * failover) is sent the source with EVAL, which also caches it there for the next EVALSHA.
 */
export async function runScript(client: Redis | Cluster, s: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
  try {
    return await client.call('EVALSHA', s.sha, keys.length, ...keys, ...args)
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return client.call('EVAL', s.source, keys.length, ...keys, ...args)
  }
}
