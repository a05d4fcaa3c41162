// What a property added after a prototype swap leaves behind in the young generation, with no http at
// all: `node benchmarks/swap-survival.mjs`. For objects with 4, 16 and 64 own properties, each case runs
// in a child process under --trace-gc-nvp and prints the bytes that survived each scavenge, per object
// allocated in between, with and without `Object.setPrototypeOf` before the addition. The cost with the
// swap grows with the number of own properties, by about 24 bytes (three words) for each: the size of a
// copy of the object's property descriptors (the new map's descriptor array), not of the object.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const OBJECTS = 300_000

if (process.argv[2] === 'child') {
  const props = Number(process.argv[3])
  const swap = process.argv[4] === 'swap'
  const body = Array.from({ length: props }, (_, i) => `this.p${i} = ${i}`).join('; ')
  const Shape = new Function(`return class Shape { constructor() { ${body} } }`)()
  const proto = Object.create(Shape.prototype)
  // A few live at a time, as requests in flight are.
  const live = new Array(50)
  for (let i = 0; i < OBJECTS; i++) {
    const o = new Shape()
    if (swap) Object.setPrototypeOf(o, proto)
    o.locals = i
    live[i % live.length] = o
  }
  process.exit(0)
}

function survivedPerObject(props, swap) {
  const out = execFileSync(process.execPath, ['--trace-gc-nvp', fileURLToPath(import.meta.url), 'child', String(props), swap ? 'swap' : 'plain'], {
    encoding: 'utf8',
  })
  let scavenges = 0
  let survived = 0
  for (const line of out.split('\n')) {
    if (!line.includes('gc=s ')) continue
    scavenges++
    survived += Number(/new_space_survived=(\d+)/.exec(line)?.[1] ?? 0)
  }
  // Each scavenge's survivors over the objects allocated since the one before.
  return scavenges === 0 ? 0 : survived / OBJECTS
}

console.log('| own properties | survived per object, no swap | survived per object, swapped then added | 24 B x (properties + 1) |')
console.log('| --- | --- | --- | --- |')
for (const props of [4, 16, 64]) {
  const plain = survivedPerObject(props, false)
  const swapped = survivedPerObject(props, true)
  console.log(`| ${props} | ${plain.toFixed(0)} B | ${swapped.toFixed(0)} B | ${24 * (props + 1)} B |`)
}
