import v8 from 'node:v8'

// V8's own answers, through its natives syntax (enabled here, for the functions compiled after it).
v8.setFlagsFromString('--allow-natives-syntax')
const fastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean

/** True when `obj` keeps its properties in a hidden class (V8's fast mode), false in dictionary mode. */
export function hasFastProperties(obj: object): boolean {
  return fastProperties(obj)
}

/** True when `a` and `b` have the same hidden class (V8 map) right now. */
export function sameHiddenClass(a: object, b: object): boolean {
  return sameMap(a, b)
}
