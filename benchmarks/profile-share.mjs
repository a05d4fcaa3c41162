// The share of a process's busy CPU spent inside the named functions (inclusive: with what they call),
// from a --cpu-prof profile, each alone and all together (a sample counted once). A share of CPU does
// not move with the machine's speed the way req/s does on a shared VM.
//   node benchmarks/profile-share.mjs <file.cpuprofile> <function name> [...]
// A name may be qualified with the file it is in: `result@usage` matches `result` in a URL containing `usage`.
import { readFileSync } from 'node:fs'

const [file, ...names] = process.argv.slice(2)
if (!file || names.length === 0) {
  console.error('usage: node benchmarks/profile-share.mjs <file.cpuprofile> <function name> [...]')
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, 'utf8'))
const matchers = names.map((spec) => {
  const [name, inUrl] = spec.split('@')
  return (frame) => frame.functionName === name && (!inUrl || frame.url.includes(inUrl))
})
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const time = new Map()
profile.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))

let busy = 0
let union = 0
const each = names.map(() => 0)
for (const [id, t] of time) {
  if (byId.get(id).callFrame.functionName === '(idle)') continue
  busy += t
  const hit = new Set()
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const frame = byId.get(cur).callFrame
    matchers.forEach((m, k) => m(frame) && hit.add(k))
  }
  for (const k of hit) each[k] += t
  if (hit.size > 0) union += t
}
const pct = (x) => `${((100 * x) / busy).toFixed(2)}%`
names.forEach((n, k) => console.log(`${n.padEnd(28)} ${pct(each[k])}`))
console.log(`${'all of them'.padEnd(28)} ${pct(union)}   (of ${(busy / 1e6).toFixed(1)} s busy)`)
