import { getAddress } from 'viem'
import { describe, expect, it } from 'vitest'
import { BN254_SCALAR_FIELD_ORDER, zkJobBinding } from '../src/index.js'

describe('zkJobBinding', () => {
  // keccak256 of the 64 bytes 0x11 x 32 ++ 0x00 x 12 ++ 0x22 x 20 is
  // 0x45495ab3...c191f892, above the field order, so this vector also checks the reduction.
  const jobId = `0x${'11'.repeat(32)}` as const
  const provider = `0x${'22'.repeat(20)}` as const

  it('is keccak256(abi.encode(bytes32 jobId, address provider)) mod the BN254 scalar field', () => {
    expect(zkJobBinding(jobId, provider)).toBe(
      9450949520939005032428298284028694927535443221032981854353657136215969888401n,
    )
    expect(0x45495ab3cf06bad049cda41fd0dd8468d47585a92b3ed93c3c5aaef8c191f892n).toBeGreaterThan(
      BN254_SCALAR_FIELD_ORDER,
    )
  })

  it('differs per job and per provider, and reads a checksummed address as its lowercase form', () => {
    const base = zkJobBinding(jobId, provider)
    expect(zkJobBinding(`0x${'11'.repeat(31)}12`, provider)).not.toBe(base)
    expect(zkJobBinding(jobId, `0x${'22'.repeat(19)}23`)).not.toBe(base)
    const lower = '0xabcdef0123456789abcdef0123456789abcdef01' as const
    expect(zkJobBinding(jobId, getAddress(lower))).toBe(zkJobBinding(jobId, lower))
  })
})
