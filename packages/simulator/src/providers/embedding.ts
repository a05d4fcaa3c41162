/** A deterministic unit vector for a text: the same text always embeds the same, different texts differ. */
export function embeddingVector(text: string, dimensions: number): Float32Array {
  // FNV-1a seeds a xorshift generator.
  let seed = 0x811c9dc5
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 0x01000193) >>> 0
  seed ||= 1 // xorshift never leaves 0
  const vector = new Float32Array(dimensions)
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    seed >>>= 0
    vector[i] = seed / 0xffffffff - 0.5
    norm += vector[i]! * vector[i]!
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0
  for (let i = 0; i < dimensions; i++) vector[i] = vector[i]! * scale
  return vector
}
