import { MerkleTree } from '@ocn/protocol'
import { type Hex, keccak256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import {
  DeterministicRandom,
  detectionProbability,
  leafClaimFrom,
  privateSampleSeed,
  ReplayError,
  type ReplayExecutor,
  type SampleCommitment,
  sampleIndices,
  sampleSeedDigest,
  samplesForDetection,
  spotCheck,
  verifySampleSeed,
} from '../../src/replay/index.js'

const randomness = keccak256(toHex('a verifier seed'))

function binomial(n: number, k: number): number {
  let r = 1
  for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1)
  return r
}

function exactBinomial(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n
  let r = 1n
  for (let i = 0; i < k; i++) r = (r * BigInt(n - i)) / BigInt(i + 1)
  return r
}

/** Whether k of n catch one of c cheated with probability >= num/den, in exact integers. */
function reaches(n: number, k: number, c: number, num: bigint, den: bigint): boolean {
  // P(miss) = C(n - c, k) / C(n, k) <= 1 - num/den  <=>  C(n - c, k) * den <= C(n, k) * (den - num)
  return exactBinomial(n - c, k) * den <= exactBinomial(n, k) * (den - num)
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

  it('at target 1 asks for one more item than the honest ones (n - faked + 1)', () => {
    // the case: n = 100, half faked; 50 honest items could all be drawn, the 51st cannot
    expect(samplesForDetection(100, 0.5, 1)).toBe(51)
    expect(detectionProbability(100, 51, 50)).toBe(1)
    // 50 may all be honest: a miss chance of 1 / C(100, 50), too small for a double but not 0
    expect(reaches(100, 50, 50, 1n, 1n)).toBe(false)
    expect(reaches(100, 51, 50, 1n, 1n)).toBe(true)
    for (const [n, fraction] of [
      [1, 1],
      [7, 1 / 7],
      [64, 0.25],
      [1000, 0.001],
    ] as const) {
      const c = Math.max(1, Math.ceil(fraction * n - 1e-9))
      expect(samplesForDetection(n, fraction, 1)).toBe(n - c + 1)
    }
  })

  it('returns the smallest k that reaches the target by the exact hypergeometric probability', () => {
    const targets: Array<[number, bigint, bigint]> = [
      [0.5, 1n, 2n],
      [0.9, 9n, 10n],
      [0.99, 99n, 100n],
      [0.999, 999n, 1000n],
    ]
    for (const [n, fraction] of [
      [100, 0.5],
      [100, 0.01],
      [64, 0.25],
      [500, 0.02],
      [37, 3 / 37],
    ] as const) {
      const c = Math.max(1, Math.ceil(fraction * n - 1e-9))
      for (const [target, num, den] of targets) {
        const k = samplesForDetection(n, fraction, target)
        expect(reaches(n, k, c, num, den), `n=${n} c=${c} target=${target} k=${k}`).toBe(true)
        expect(reaches(n, k - 1, c, num, den), `n=${n} c=${c} target=${target} k-1=${k - 1}`).toBe(false)
      }
    }
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

    // a claim that does not open the committed root: every sampled leaf is a bad proof
    const bad = await spotCheck({ ...base, samples: 3, claim: (i) => ({ dataHash: honest[i]!, proof: [] }) })
    expect(bad.checkedIndices).toHaveLength(3)
    expect(bad.mismatches).toEqual(
      bad.checkedIndices.map((index) => ({ index, reason: 'bad-proof', claimed: honest[index] })),
    )
    expect(bad.passed).toBe(false)
  })

  it('counts a leaf not served, or served malformed, against the provider instead of throwing', async () => {
    const tree = MerkleTree.fromDataHashes(honest)
    const base = {
      kind: 'inference' as const,
      jobId: 'job-8',
      randomness,
      root: tree.root,
      leafCount: honest.length,
      samples: 6,
      executor,
    }
    const indices = sampleIndices(randomness, 'job-8', honest.length, 6)
    const withheld = indices[2]!
    const thrown = indices[4]!
    const malformed = indices[5]!
    const report = await spotCheck({
      ...base,
      claim: (i) => {
        if (i === withheld) return undefined
        if (i === thrown) throw new Error('stream reset')
        if (i === malformed) return { dataHash: '0x12' as Hex, proof: ['0xzz' as Hex] }
        return leafClaimFrom(tree, honest, i)
      },
    })
    expect(report.passed).toBe(false)
    expect(report.mismatches).toEqual([
      { index: withheld, reason: 'not-served', error: `leaf ${withheld} not served` },
      { index: thrown, reason: 'not-served', error: `leaf ${thrown} not served: Error: stream reset` },
      { index: malformed, reason: 'bad-proof', claimed: '0x12' },
    ])
  })
})

describe('private sampling', () => {
  const commitment: SampleCommitment = {
    chainId: 31337,
    jobMarket: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    jobId: keccak256(toHex('job')),
    resultRoot: keccak256(toHex('root')),
  }
  const alice = privateKeyToAccount(keccak256(toHex('verifier alice')))
  const bob = privateKeyToAccount(keccak256(toHex('verifier bob')))
  const provider = privateKeyToAccount(keccak256(toHex('the provider')))
  const draw = async (seed: Hex) => sampleIndices(seed, commitment.jobId, 4096, 12)

  it('two verifiers draw different samples of the same commitment', async () => {
    const a = await privateSampleSeed(alice, commitment)
    const b = await privateSampleSeed(bob, commitment)
    expect(a.seed).not.toBe(b.seed)
    expect(await draw(a.seed)).not.toEqual(await draw(b.seed))
  })

  it('the same verifier draws the same sample again (a restart changes nothing)', async () => {
    const first = await privateSampleSeed(alice, commitment)
    // a fresh account object from the same key, as after a restart
    const again = await privateSampleSeed(privateKeyToAccount(keccak256(toHex('verifier alice'))), commitment)
    expect(again).toEqual(first)
    expect(await draw(again.seed)).toEqual(await draw(first.seed))
  })

  it('another commitment (root, job, market or chain) gives another seed', async () => {
    const base = (await privateSampleSeed(alice, commitment)).seed
    for (const other of [
      { ...commitment, resultRoot: keccak256(toHex('root 2')) },
      { ...commitment, jobId: keccak256(toHex('job 2')) },
      { ...commitment, jobMarket: '0x0000000000000000000000000000000000000001' as const },
      { ...commitment, chainId: 1 },
    ]) {
      expect((await privateSampleSeed(alice, other)).seed).not.toBe(base)
    }
  })

  it('the provider cannot compute it from public data or its own key, and the signature proves it', async () => {
    const seed = await privateSampleSeed(alice, commitment)
    const digest = sampleSeedDigest(commitment)
    // everything public about the commitment hashes to something else
    expect(seed.seed).not.toBe(digest)
    expect(seed.seed).not.toBe(keccak256(digest))
    // signing with any key other than the verifier's gives another seed
    const forged = await privateSampleSeed(provider, commitment)
    expect(forged.seed).not.toBe(seed.seed)
    expect(await draw(forged.seed)).not.toEqual(await draw(seed.seed))
    // the verifier's seed is checkable afterwards; a forged one is not the verifier's
    expect(await verifySampleSeed(alice.address, commitment, seed)).toBe(true)
    expect(await verifySampleSeed(alice.address, commitment, forged)).toBe(false)
    expect(await verifySampleSeed(alice.address, commitment, { ...seed, seed: forged.seed })).toBe(false)
  })
})
