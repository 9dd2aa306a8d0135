import { MerkleTree } from '@ocn/protocol'
import { type Hex, keccak256, toHex } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  DeterministicRandom,
  detectionProbability,
  leafClaimFrom,
  ReplayError,
  type ReplayExecutor,
  sampleIndices,
  samplesForDetection,
  spotCheck,
} from '../../src/replay/index.js'

const randomness = keccak256(toHex('block 1234'))

function binomial(n: number, k: number): number {
  let r = 1
  for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1)
  return r
}

describe('spot-check sampling', () => {
  it('draws the same distinct sorted indices for the same randomness and job, others for another job', () => {
    const a = sampleIndices(randomness, 'job-1', 1000, 20)
    expect(sampleIndices(randomness, 'job-1', 1000, 20)).toEqual(a)
    expect(new Set(a).size).toBe(20)
    expect([...a].sort((x, y) => x - y)).toEqual(a)
    expect(a.every((i) => i >= 0 && i < 1000)).toBe(true)
    expect(sampleIndices(randomness, 'job-2', 1000, 20)).not.toEqual(a)
    expect(sampleIndices(randomness, 'job-1', 5, 5)).toEqual([0, 1, 2, 3, 4])
  })

  it('is unbiased: every index is drawn about equally often', () => {
    const counts = new Array(10).fill(0)
    for (let j = 0; j < 3000; j++) for (const i of sampleIndices(randomness, `job-${j}`, 10, 3)) counts[i]++
    // expected 900 each; 6 sigma is about 150
    for (const c of counts) expect(Math.abs(c - 900)).toBeLessThan(150)
  })

  it('rejects bad randomness and ranges with a typed error', () => {
    expect(() => sampleIndices('0x1234', 'j', 10, 2)).toThrow(ReplayError)
    expect(() => sampleIndices(randomness, 'j', 10, 11)).toThrow(/sample count/)
  })

  it('computes the hypergeometric detection probability exactly', () => {
    for (const [n, k, c] of [
      [10, 3, 2],
      [50, 7, 5],
      [20, 20, 1],
      [30, 0, 4],
    ] as const) {
      const want = 1 - binomial(n - c, k) / binomial(n, k)
      expect(detectionProbability(n, k, c)).toBeCloseTo(want, 12)
    }
    expect(detectionProbability(100, 1, 0)).toBe(0)
  })

  it('sizes a sample for a target detection probability', () => {
    const k = samplesForDetection(1000, 0.01, 0.99)
    expect(detectionProbability(1000, k, 10)).toBeGreaterThanOrEqual(0.99)
    expect(detectionProbability(1000, k - 1, 10)).toBeLessThan(0.99)
    expect(samplesForDetection(10, 0.01, 1)).toBe(10)
  })

  it('DeterministicRandom follows its documented definition', async () => {
    const { createHash } = await import('node:crypto')
    const seed = new Uint8Array(32).fill(7)
    const rng = new DeterministicRandom(seed)
    const block0 = createHash('sha256').update(seed).update(new Uint8Array(8)).digest()
    expect(rng.uint32()).toBe(block0.readUInt32BE(0))
    const p = new DeterministicRandom(seed).permutation(50)
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})

describe('spotCheck', () => {
  const honest = Array.from({ length: 40 }, (_, i) => keccak256(toHex(`batch ${i}`)))
  const executor: ReplayExecutor = {
    runMicroBatch: async (i) => honest[i]!,
    runTrainingSegment: async (i) => honest[i]!,
  }

  it('passes an honest provider and catches a faked leaf or a bad proof', async () => {
    const tree = MerkleTree.fromDataHashes(honest)
    const base = {
      kind: 'inference' as const,
      jobId: 'job-7',
      randomness,
      root: tree.root,
      leafCount: honest.length,
      samples: 40,
      executor,
    }
    const ok = await spotCheck({ ...base, claim: (i) => leafClaimFrom(tree, honest, i) })
    expect(ok.passed).toBe(true)
    expect(ok.checkedIndices).toHaveLength(40)
    expect(ok.detectionProbability).toBe(1)

    // the provider committed a wrong result for item 5
    const faked: Hex[] = [...honest]
    faked[5] = keccak256(toHex('wrong'))
    const fakedTree = MerkleTree.fromDataHashes(faked)
    const caught = await spotCheck({
      ...base,
      root: fakedTree.root,
      claim: (i) => leafClaimFrom(fakedTree, faked, i),
    })
    expect(caught.mismatches).toEqual([
      { index: 5, reason: 'different-result', claimed: faked[5], replayed: honest[5] },
    ])

    // a claim that does not open the committed root
    const bad = await spotCheck({ ...base, samples: 3, claim: (i) => ({ dataHash: honest[i]!, proof: [] }) })
    expect(bad.mismatches.every((m) => m.reason === 'bad-proof')).toBe(true)
  })
})
