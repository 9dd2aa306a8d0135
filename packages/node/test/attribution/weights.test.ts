import {
  ATTRIBUTION_WEIGHT_TOTAL,
  attributionLeaf,
  attributionWeightsTree,
  datanetManifestHash,
  parseDatanetManifest,
  scoresToBasisPoints,
  verifyMerkleProof,
} from '@ocn/protocol'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const address = (i: number) => `0x${(i + 1).toString(16).padStart(40, '0')}` as const

describe('attribution weights (unit)', () => {
  it('always sums to exactly 10000, clamps harm to 0 and keeps the order of positive scores', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (scores) => {
          const w = scoresToBasisPoints(scores)
          expect(w.reduce((a, b) => a + b, 0)).toBe(ATTRIBUTION_WEIGHT_TOTAL)
          expect(w).toEqual(scoresToBasisPoints([...scores]))
          const anyPositive = scores.some((s) => s > 0)
          scores.forEach((s, i) => {
            if (anyPositive && s <= 0) expect(w[i]).toBe(0)
            scores.forEach((t, j) => {
              if (anyPositive && s > t) expect(w[i]!).toBeGreaterThanOrEqual(w[j]!)
            })
          })
        },
      ),
    )
  })

  it('splits evenly when nothing has positive influence, remainder to the first', () => {
    expect(scoresToBasisPoints([-1, 0, -3])).toEqual([3334, 3333, 3333])
    expect(scoresToBasisPoints([1, 1, 1])).toEqual([3334, 3333, 3333])
    expect(scoresToBasisPoints([2, 1, Number.NaN])).toEqual([6667, 3333, 0])
  })

  it('commits every (address, weight) leaf under the root, and nothing else', () => {
    const weights = scoresToBasisPoints([5, 3, 0, 1, 9]).map((weight, i) => ({ address: address(i), weight }))
    const tree = attributionWeightsTree(weights)
    weights.forEach((w, i) => {
      expect(verifyMerkleProof(tree.root, attributionLeaf(i, w.address, w.weight), tree.proof(i))).toBe(true)
      expect(verifyMerkleProof(tree.root, attributionLeaf(i, w.address, w.weight + 1), tree.proof(i))).toBe(
        false,
      )
    })
    expect(() => attributionWeightsTree([{ address: address(0), weight: 9999 }])).toThrow(/sum to 9999/)
  })

  it('hashes a manifest canonically (address case does not matter, content does)', () => {
    const base = {
      version: 1,
      datasetId: `0x${'ab'.repeat(32)}`,
      rows: 10,
      contributors: [
        { address: `0x${'cd'.repeat(20)}`, dataHash: `0x${'01'.repeat(32)}`, ranges: [{ start: 0, end: 4 }] },
        { address: address(1), dataHash: `0x${'02'.repeat(32)}`, ranges: [{ start: 4, end: 10 }] },
      ],
    }
    const h = datanetManifestHash(parseDatanetManifest(base))
    const upper = structuredClone(base)
    upper.contributors[0]!.address = `0x${'CD'.repeat(20)}`
    expect(datanetManifestHash(parseDatanetManifest(upper))).toBe(h)
    const moved = structuredClone(base)
    moved.contributors[0]!.ranges = [{ start: 0, end: 3 }]
    expect(datanetManifestHash(parseDatanetManifest(moved))).not.toBe(h)
    const past = structuredClone(base)
    past.contributors[1]!.ranges = [{ start: 4, end: 11 }]
    expect(() => parseDatanetManifest(past)).toThrow(/ends past row 10/)
  })
})
