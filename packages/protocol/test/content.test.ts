import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  contentHashOf,
  createContentHasher,
  isContentHash,
  ProtocolError,
  parseContentHash,
} from '../src/index.js'

describe('content hashes', () => {
  it('equal SHA-256, streamed in any chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.array(fc.nat({ max: 5000 })), (bytes, cuts) => {
        const expected = `0x${createHash('sha256').update(bytes).digest('hex')}`
        expect(contentHashOf(bytes)).toBe(expected)
        const hasher = createContentHasher()
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
        let from = 0
        for (const p of [...points, bytes.length]) {
          hasher.update(bytes.subarray(from, p))
          from = p
        }
        expect(hasher.bytes).toBe(bytes.length)
        expect(hasher.digest()).toBe(expected)
      }),
      { numRuns: 200 },
    )
  })

  it('accepts only 0x + 64 hex digits as names', () => {
    const good = contentHashOf(new Uint8Array([1]))
    expect(isContentHash(good)).toBe(true)
    expect(parseContentHash(good.toUpperCase().replace('0X', '0x'))).toBe(good)
    for (const bad of [
      '',
      '0x',
      `${good}0`,
      good.slice(0, 65),
      '../../etc/passwd',
      `0x${'g'.repeat(64)}`,
      `${good.slice(0, 60)}/../`,
    ]) {
      expect(isContentHash(bad)).toBe(false)
      expect(() => parseContentHash(bad)).toThrow(ProtocolError)
    }
  })
})
