// The compact salt space (JobMarket.COMPACT_SALT_TAG) on the client side, with no chain: which
// salts are compact, the salts `compactSalt` makes, and the numbers it refuses.
import { describe, expect, it } from 'vitest'
import {
  COMPACT_SALT,
  COMPACT_SALT_TAG,
  ContractsClientError,
  compactSalt,
  isCompactSalt,
} from '../src/index.js'

describe('compact salts', () => {
  it('are the salts tagged "OCNC" in their top 32 bits, and no others', () => {
    expect(COMPACT_SALT).toBe(0x4f434e43n << 224n)
    expect(isCompactSalt(compactSalt(0n))).toBe(true)
    expect(isCompactSalt(compactSalt((1n << 224n) - 1n))).toBe(true)
    for (const salt of [
      0n,
      1n,
      1n << 255n,
      COMPACT_SALT - 1n,
      COMPACT_SALT + (1n << 224n),
      (1n << 256n) - 1n,
    ])
      expect(isCompactSalt(salt), `${salt}`).toBe(false)
    expect(COMPACT_SALT_TAG).toBe(BigInt(`0x${Buffer.from('OCNC').toString('hex')}`))
  })

  it('numbers outside 0 .. 2^224 - 1 are refused with a typed error', () => {
    for (const n of [-1n, 1n << 224n]) expect(() => compactSalt(n)).toThrow(ContractsClientError)
    expect(compactSalt(7n)).toBe(COMPACT_SALT + 7n)
  })
})
