// Finding secrets where they must never be: responses, records, log lines. A hit is any run of
// WINDOW consecutive characters of a secret: a key's hint shows at most 8 of them (maskKey), so 9 in a
// row can only be a leak. Secrets must not contain '.', which the hint's '...' could match.
import pino from 'pino'

const WINDOW = 9

export class LeakScanner {
  #windows = new Map()
  hits = 0
  /** Up to 10 hits: where, and which secret (by label; the text around it is not kept). */
  samples = []

  /** `secrets`: label -> secret. */
  constructor(secrets) {
    for (const [label, secret] of Object.entries(secrets)) {
      if (secret.length < WINDOW || secret.includes('.')) throw new Error(`leak scanner: secret ${label} must be ${WINDOW}+ characters without dots`)
      for (let i = 0; i + WINDOW <= secret.length; i++) this.#windows.set(secret.slice(i, i + WINDOW), label)
    }
  }

  /** Counts the secrets' windows in `text` (a string or a Buffer read as latin1); returns the hits. */
  scan(text, where) {
    const s = typeof text === 'string' ? text : text.toString('latin1')
    let found = 0
    for (let i = 0; i + WINDOW <= s.length; i++) {
      const label = this.#windows.get(s.slice(i, i + WINDOW))
      if (label === undefined) continue
      found++
      if (this.samples.length < 10) this.samples.push({ where, secret: label })
      i += WINDOW - 1
    }
    this.hits += found
    return found
  }
}

/** A pino logger at the most verbose level whose every line goes through `onLine` (and is not kept). */
export function scanningLogger(onLine) {
  return pino({ level: 'trace' }, { write: (line) => onLine(line) })
}
