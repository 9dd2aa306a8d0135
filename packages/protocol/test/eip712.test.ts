import { randomBytes } from 'node:crypto'
import { type Hex, hashTypedData, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  jobIdOf,
  jobIdOfByViem,
  keccakReady,
  type OfferTerms,
  offerDigest,
  offerTypedData,
} from '../src/index.js'
import { domain } from './fixtures.js'

const MAX_UINT256 = 2n ** 256n - 1n

function randomTerms(): OfferTerms {
  const int = (bytes: number) => BigInt(toHex(randomBytes(bytes)))
  return {
    requester: privateKeyToAccount(generatePrivateKey()).address,
    modelHash: toHex(randomBytes(32)),
    inputHash: toHex(randomBytes(32)),
    specHash: toHex(randomBytes(32)),
    kind: randomBytes(1)[0] as number,
    verification: randomBytes(1)[0] as number,
    maxPrice: int(32),
    minCollateral: int(32),
    biddingEnds: int(8),
    deadline: int(8),
    sampleCount: randomBytes(4).readUInt32BE(0),
    microBatchSize: randomBytes(4).readUInt32BE(0),
    salt: int(32),
  }
}

/** the function's answer or the fact that it threw: what jobIdOf must share with hashStruct */
function outcome(f: () => Hex): string {
  try {
    return f()
  } catch {
    return 'throws'
  }
}

beforeAll(async () => {
  await keccakReady()
})

describe('jobIdOf', () => {
  it('equals viem hashStruct on 64 random offers, edge values included', () => {
    for (let i = 0; i < 64; i++) {
      const terms = randomTerms()
      expect(jobIdOf(terms)).toBe(jobIdOfByViem(terms))
    }
    const edges = {
      ...randomTerms(),
      kind: 255,
      maxPrice: MAX_UINT256,
      salt: 0n,
      biddingEnds: 2n ** 64n - 1n,
    }
    expect(jobIdOf(edges)).toBe(jobIdOfByViem(edges))
  })

  it('refuses what hashStruct refuses', () => {
    const base = randomTerms()
    const bad: Partial<OfferTerms>[] = [
      { kind: 256 },
      { verification: -1 },
      { sampleCount: 2 ** 32 },
      { biddingEnds: 2n ** 64n },
      { maxPrice: MAX_UINT256 + 1n },
      { maxPrice: -1n },
      { modelHash: '0x1234' },
      { requester: base.requester.toLowerCase().replace(/^0x./, '0xG') as Hex },
      // a checksum with one letter's case flipped
      { requester: `0x${base.requester.slice(2).replace(/[a-f]/, (c) => c.toUpperCase())}` as Hex },
    ]
    for (const change of bad) {
      const terms = { ...base, ...change }
      expect(
        outcome(() => jobIdOf(terms)),
        JSON.stringify(change, (_, v) => String(v)),
      ).toBe(outcome(() => jobIdOfByViem(terms)))
    }
    // and each of these is refused, not hashed
    for (const change of bad) expect(outcome(() => jobIdOf({ ...base, ...change }))).toBe('throws')
  })
})

describe('offerDigest', () => {
  it('equals viem hashTypedData, with or without the job id given', () => {
    const terms = {
      requester: privateKeyToAccount(generatePrivateKey()).address,
      modelHash: toHex(randomBytes(32)),
      inputHash: toHex(randomBytes(32)),
      specHash: toHex(randomBytes(32)),
      kind: 1,
      verification: 1,
      maxPrice: 10n ** 18n,
      minCollateral: 3n,
      biddingEnds: 1_900_000_000n,
      deadline: 1_900_003_600n,
      sampleCount: 7,
      microBatchSize: 7,
      salt: 2n ** 255n + 9n,
    }
    const expected = hashTypedData(offerTypedData(domain, terms))
    expect(offerDigest(domain, terms)).toBe(expected)
    expect(offerDigest(domain, terms, jobIdOf(terms))).toBe(expected)
    const otherDomain = { ...domain, chainId: domain.chainId + 1 }
    expect(offerDigest(otherDomain, terms)).toBe(hashTypedData(offerTypedData(otherDomain, terms)))
    expect(offerDigest(otherDomain, terms)).not.toBe(expected)
  })

  it('still refuses typed data that hashTypedData refuses (a uint8 out of range, a bad checksum)', () => {
    const terms = {
      requester: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as const,
      modelHash: toHex(randomBytes(32)),
      inputHash: toHex(randomBytes(32)),
      specHash: toHex(randomBytes(32)),
      kind: 300,
      verification: 0,
      maxPrice: 1n,
      minCollateral: 1n,
      biddingEnds: 1n,
      deadline: 2n,
      sampleCount: 1,
      microBatchSize: 1,
      salt: 1n,
    }
    expect(() => hashTypedData(offerTypedData(domain, terms))).toThrow()
    expect(() => offerDigest(domain, terms)).toThrow()
    const badChecksum = {
      ...terms,
      kind: 0,
      requester: '0x5fbDB2315678afecb367f032d93F642f64180aa3' as const,
    }
    expect(() => hashTypedData(offerTypedData(domain, badChecksum))).toThrow()
    expect(() => offerDigest(domain, badChecksum)).toThrow()
  })
})
