import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { nextPacificMidnight } from '../src/providers/pacific-time.js'

// An independent reading of the Los Angeles wall clock, to check the computation against.
const la = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'America/Los_Angeles',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
})
const wall = (t: number): string => la.format(t)
const dateIn = (t: number): string => wall(t).slice(0, 10)
const H = 3_600_000

describe('nextPacificMidnight', () => {
  test('daylight saving days: 23 and 25 hours long, the offset after the change', () => {
    // 2024-03-10 00:00 PST is 08:00Z; clocks jump 02:00 -> 03:00, so the next midnight is 07:00Z.
    expect(nextPacificMidnight(Date.parse('2024-03-10T08:00:00Z'))).toBe(Date.parse('2024-03-11T07:00:00Z'))
    expect(nextPacificMidnight(Date.parse('2024-03-10T09:59:59.999Z'))).toBe(Date.parse('2024-03-11T07:00:00Z'))
    // 2024-11-03 00:00 PDT is 07:00Z; 01:00-02:00 happens twice, so the next midnight is 25 h later.
    expect(nextPacificMidnight(Date.parse('2024-11-03T07:00:00Z'))).toBe(Date.parse('2024-11-04T08:00:00Z'))
    // 01:30 PST, the second time 01:30 comes round that night.
    expect(nextPacificMidnight(Date.parse('2024-11-03T09:30:00Z'))).toBe(Date.parse('2024-11-04T08:00:00Z'))
    // The evening before each change.
    expect(nextPacificMidnight(Date.parse('2024-03-10T07:59:59Z'))).toBe(Date.parse('2024-03-10T08:00:00Z'))
    expect(nextPacificMidnight(Date.parse('2024-11-03T06:59:59Z'))).toBe(Date.parse('2024-11-03T07:00:00Z'))
    // Plain summer and winter days.
    expect(nextPacificMidnight(Date.parse('2025-07-01T12:00:00Z'))).toBe(Date.parse('2025-07-02T07:00:00Z'))
    expect(nextPacificMidnight(Date.parse('2025-01-15T23:00:00Z'))).toBe(Date.parse('2025-01-16T08:00:00Z'))
  })

  test('a moment that is midnight gets the next one, a millisecond before it gets it', () => {
    const midnight = Date.parse('2025-06-01T07:00:00Z')
    expect(nextPacificMidnight(midnight)).toBe(midnight + 24 * H)
    expect(nextPacificMidnight(midnight - 1)).toBe(midnight)
  })

  /** The properties that define "the next midnight in Los Angeles", for any clock. */
  function check(now: number): void {
    const next = nextPacificMidnight(now)
    expect(next).toBeGreaterThan(now)
    expect(next % 1000).toBe(0)
    expect(wall(next).slice(12)).toBe('00:00:00')
    // No midnight in between: the millisecond before it is still the day `now` is in.
    expect(dateIn(next - 1)).toBe(dateIn(now))
    expect(next - now).toBeLessThanOrEqual(25 * H)
  }

  test('any moment from 1970 to 2100', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Date.parse('2100-01-01T00:00:00Z') }), check), { numRuns: 2000 })
  })

  test('any moment of the days around the changes (March and November, 2007 rules onwards)', () => {
    // Since 2007: second Sunday of March, first Sunday of November. Every moment of days 1-14 of
    // those months covers each change and the days either side.
    const moment = fc
      .record({
        year: fc.integer({ min: 2007, max: 2060 }),
        month: fc.constantFrom(2, 10),
        day: fc.integer({ min: 1, max: 15 }),
        ms: fc.integer({ min: 0, max: 24 * H - 1 }),
      })
      .map(({ year, month, day, ms }) => Date.UTC(year, month, day) + ms)
    fc.assert(fc.property(moment, check), { numRuns: 3000 })
  })

  test('the day a change happens is 23 or 25 hours long, from midnight to midnight', () => {
    const lengths = new Set<number>()
    for (let year = 2007; year <= 2040; year++) {
      for (const month of [2, 10]) {
        for (let day = 1; day <= 14; day++) {
          const start = nextPacificMidnight(Date.UTC(year, month, day, 0))
          lengths.add((nextPacificMidnight(start) - start) / H)
        }
      }
    }
    expect([...lengths].sort()).toEqual([23, 24, 25])
  })
})
