import { describe, expect, it } from 'vitest'
import {
  BN254_SCALAR_FIELD,
  fieldToSigned,
  poseidonParameters,
  poseidonPermutation,
  poseidonSponge,
  signedToField,
} from '../../src/zk/index.js'

describe('Poseidon (Grain-generated constants)', () => {
  it('reproduces the reference permutation test vector for t = 3', () => {
    // poseidonperm_x5_254_3 from the Poseidon reference implementation, input [0, 1, 2]
    expect(poseidonPermutation([0n, 1n, 2n])).toEqual([
      0x115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189an,
      0x0fca49b798923ab0239de1c9e7a4a9a2210312b6a2f616d18b5a87f9b628ae29n,
      0x0e7ae82e40091e63cbd4f16a6d16310b3729d4b6e138fcf54110e2867045a30cn,
    ])
  })

  it('reproduces the reference permutation test vector for t = 5 (the commitment width)', () => {
    // poseidonperm_x5_254_5, input [0, 1, 2, 3, 4]
    expect(poseidonPermutation([0n, 1n, 2n, 3n, 4n])[0]).toBe(
      0x299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465n,
    )
  })

  it('generates (R_F + R_P) * t round constants, all in the field', () => {
    const p = poseidonParameters(5)
    expect(p.roundConstants).toHaveLength((8 + 60) * 5)
    expect(p.roundConstants.every((c) => c >= 0n && c < BN254_SCALAR_FIELD)).toBe(true)
    expect(p.mds).toHaveLength(5)
  })

  it('separates vectors that differ by length or by one element', () => {
    const base = [1n, 2n, 3n, 4n, 5n]
    const h = poseidonSponge(base)
    expect(poseidonSponge([...base, 0n])).not.toBe(h)
    expect(poseidonSponge([1n, 2n, 3n, 4n, 6n])).not.toBe(h)
    expect(poseidonSponge([])).not.toBe(poseidonSponge([0n]))
    expect(poseidonSponge(base)).toBe(h)
  })

  it('maps signed integers into the field and back', () => {
    for (const v of [0n, 1n, -1n, 123456789n, -(2n ** 100n)]) expect(fieldToSigned(signedToField(v))).toBe(v)
    expect(signedToField(-1n)).toBe(BN254_SCALAR_FIELD - 1n)
  })
})
