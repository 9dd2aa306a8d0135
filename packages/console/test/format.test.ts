/** Amounts as the console shows and reads them: exact to the base unit. */
import { describe, expect, it } from 'vitest'
import { describeProgress, formatAmount, formatOpen, parseOpen } from '../src/format.js'

describe('OPEN amounts', () => {
  it('parses decimal OPEN into base units exactly', () => {
    expect(parseOpen('1.5')).toBe(15n * 10n ** 17n)
    expect(parseOpen('0.000000000000000001')).toBe(1n)
    expect(parseOpen('123456789012345678901234567890')).toBe(123456789012345678901234567890n * 10n ** 18n)
    for (const bad of ['0', '', '-1', '1e3', '1.0000000000000000001', 'abc'])
      expect(parseOpen(bad)).toBeUndefined()
  })

  it('formats base units with up to four decimals', () => {
    expect(formatOpen('2500000000000000000')).toBe('2.5 OPEN')
    expect(formatOpen(10n ** 18n)).toBe('1 OPEN')
    expect(formatOpen(123n)).toBe('< 0.0001 OPEN')
    expect(formatOpen(0n)).toBe('0 OPEN')
    expect(formatOpen(12345n * 10n ** 14n)).toBe('1.2345 OPEN')
    expect(formatOpen(undefined)).toBe('—')
  })
})

describe('progress lines', () => {
  it('reads counts, bytes and rates', () => {
    expect(
      describeProgress({ stage: 'execution', unit: 'micro-batches', done: 3, total: 8, rate: 2.5 }),
    ).toBe('execution 3/8 micro-batches (37%) · 2.5/s')
    expect(
      describeProgress({
        stage: 'transfer',
        label: 'model',
        unit: 'bytes',
        done: 3 * 1024 * 1024,
        total: 4 * 1024 * 1024,
        rate: 2048,
      }),
    ).toBe('transfer model 3.0 MiB of 4.0 MiB (75%) · 2.0 KiB/s')
    expect(describeProgress({ stage: 'execution', unit: 'steps', done: 40 })).toBe('execution 40 steps')
    expect(formatAmount(512, 'bytes')).toBe('512 B')
  })
})
