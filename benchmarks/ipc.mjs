// Request/answer messages between run.mjs and its child processes (the driver and each proxy).
import { spawn } from 'node:child_process'

/** Spawns `node [execArgv] script [args]` with an IPC channel, on CPU `cpu` through taskset when given. */
export function spawnNode(script, { args = [], execArgv = [], cpu }) {
  const argv = [...execArgv, script, ...args]
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc']
  // taskset execs node in place, which keeps the IPC descriptor and NODE_CHANNEL_FD.
  return cpu === undefined ? spawn(process.execPath, argv, { stdio }) : spawn('taskset', ['-c', String(cpu), process.execPath, ...argv], { stdio })
}

/**
 * `ready` resolves once the child serves commands (messages sent earlier would be lost); `call(cmd, args)`
 * sends a command and resolves to its answer. A child that exits fails all that is pending.
 */
export function caller(child) {
  let nextId = 0
  const pending = new Map()
  let readyWait
  const ready = new Promise((resolve, reject) => (readyWait = { resolve, reject }))
  ready.catch(() => {})
  const failAll = (err) => {
    readyWait.reject(err)
    for (const { reject } of pending.values()) reject(err)
    pending.clear()
  }
  child.on('message', ({ id, result, error, ready: isReady }) => {
    if (isReady) return readyWait.resolve()
    const p = pending.get(id)
    pending.delete(id)
    if (error !== undefined) p?.reject(new Error(error))
    else p?.resolve(result)
  })
  child.on('exit', (code, signal) => failAll(new Error(`child exited (${signal ?? code})`)))
  child.on('error', failAll)
  const call = (cmd, args = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ id, cmd, args }, (err) => {
        if (err) {
          pending.delete(id)
          reject(err)
        }
      })
    })
  return { ready, call }
}

/** The child's side: answers each command with `handlers[cmd](args)`. */
export function serve(handlers) {
  process.on('message', async ({ id, cmd, args }) => {
    try {
      const result = await handlers[cmd](args)
      process.send({ id, result })
    } catch (err) {
      process.send({ id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })
    }
  })
  process.send({ ready: true })
}
