import type { Bid, IdentityBinding, JobOffer } from '@ocn/protocol'
import type { Address } from 'viem'
import { describe, expect, it } from 'vitest'
import { awardFits } from '../../src/roles/requester/award.js'
import {
  type BidderStanding,
  bidRisk,
  type Candidate,
  convicted,
  expectedCost,
  pricedUnits,
  priceFloor,
  rankBids,
  type SelectionRules,
} from '../../src/roles/requester/ranking.js'

const OPEN = 10n ** 18n
const REQUESTER = '0x00000000000000000000000000000000000000aa' as Address
const binding = {} as IdentityBinding

/** A 64-sample inference offer like the e2e fixture's: max price 1 OPEN, minimum collateral the same. */
function offer(overrides: Partial<JobOffer['terms']> = {}, spec?: object): JobOffer {
  return {
    version: 1,
    chainId: 31337,
    market: '0x0000000000000000000000000000000000000001',
    terms: {
      requester: REQUESTER,
      modelHash: '0x01',
      inputHash: '0x02',
      specHash: '0x03',
      kind: 0,
      verification: 0,
      maxPrice: OPEN,
      minCollateral: OPEN,
      sampleCount: 64,
      microBatchSize: 4,
      biddingEnds: 1_000n,
      deadline: 1_300n,
      salt: 1n,
      ...overrides,
    } as JobOffer['terms'],
    requesterPeerId: 'peer',
    requesterBinding: binding,
    signature: '0x',
    modelBytes: 1,
    inputBytes: 1,
    ...(spec === undefined ? {} : { spec: new TextEncoder().encode(JSON.stringify(spec)) }),
  }
}

function bid(provider: string, price: bigint, extra: Partial<Bid['terms']> = {}): Bid {
  return {
    version: 1,
    terms: {
      jobId: '0x00',
      provider: provider as Address,
      price,
      collateral: OPEN,
      expiry: 1_300n,
      nonce: 1n,
      etaSeconds: 1,
      ...extra,
    },
    signature: '0x',
    providerPeerId: `peer-${provider}`,
    providerBinding: binding,
  }
}

const fresh = { completed: 0, slashed: 0, noShows: 0 }
const proven = { completed: 5, slashed: 0, noShows: 0 }
const staked = (record = fresh, freeStake = 100n * OPEN): BidderStanding => ({ freeStake, record })

function rules(extra: Partial<SelectionRules> = {}): SelectionRules {
  return {
    offer: offer(),
    awardAt: 980n,
    minPricePerSample: OPEN / 10_000_000n,
    excluded: new Set(),
    ...extra,
  }
}

function candidates(entries: Array<[string, Bid, BidderStanding]>): Candidate<string>[] {
  return entries.map(([name, b, standing], i) => ({ item: name, bid: b, standing, receivedAt: i }))
}

/** the honest provider's price for the fixture: 1e-4 OPEN per sample (its default floor) × 64 */
const honestPrice = (OPEN / 10_000n) * 64n

describe('bid ranking (expected cost = price + risk × max price)', () => {
  it('a stranger weighs 1, a clean record of n jobs 1 / (n + 1), a slash 3 on its own', () => {
    expect(bidRisk(fresh, OPEN, OPEN)).toEqual({ numerator: 1000n, denominator: 1000n })
    expect(bidRisk(proven, OPEN, OPEN)).toEqual({ numerator: 1000n, denominator: 6000n })
    // a slash counts as two failures, a no-show as one
    expect(bidRisk({ completed: 5, slashed: 1, noShows: 1 }, OPEN, OPEN)).toEqual({
      numerator: 4000n,
      denominator: 6000n,
    })
    expect(bidRisk({ completed: 0, slashed: 1, noShows: 0 }, OPEN, OPEN)).toEqual({
      numerator: 3000n,
      denominator: 1000n,
    })
    // collateral beyond the minimum is evidence too, at most as much as 4 completed jobs
    expect(bidRisk(fresh, 2n * OPEN, OPEN)).toEqual({ numerator: 1000n, denominator: 2000n })
    expect(bidRisk(fresh, 100n * OPEN, OPEN)).toEqual({ numerator: 1000n, denominator: 5000n })
    const terms = { collateral: OPEN, minCollateral: OPEN, value: OPEN }
    expect(expectedCost(600n, proven, terms)).toBe(600n + OPEN / 6n)
  })

  it('a fresh identity 40% cheaper loses to a proven provider', () => {
    const { ranked } = rankBids(
      candidates([
        ['sybil', bid('0x01', (honestPrice * 6n) / 10n), staked()],
        ['honest', bid('0x02', honestPrice), staked(proven)],
      ]),
      rules(),
    )
    expect(ranked.map((r) => r.item)).toEqual(['honest', 'sybil'])
  })

  it('a 1-wei bid from an unproven identity loses, even with no price floor', () => {
    const { ranked } = rankBids(
      candidates([
        ['sybil', bid('0x01', 1n), staked()],
        ['honest', bid('0x02', honestPrice), staked({ completed: 1, slashed: 0, noShows: 0 })],
      ]),
      rules({ minPricePerSample: 0n }),
    )
    expect(ranked.map((r) => r.item)).toEqual(['honest', 'sybil'])
  })

  it('a fresh identity wins when no proven provider bids, so new providers can enter', () => {
    const { ranked } = rankBids(
      candidates([
        ['dear', bid('0x01', honestPrice), staked()],
        ['newcomer', bid('0x02', (honestPrice * 6n) / 10n), staked()],
        ['cheater', bid('0x03', honestPrice / 2n), staked({ completed: 0, slashed: 1, noShows: 0 })],
      ]),
      rules(),
    )
    // among strangers price decides; a record of cheating ranks below any stranger
    expect(ranked.map((r) => r.item)).toEqual(['newcomer', 'dear', 'cheater'])
    // extra collateral ranks a newcomer above cheaper strangers
    const { ranked: bonded } = rankBids(
      candidates([
        ['cheap', bid('0x01', honestPrice / 2n), staked()],
        ['bonded', bid('0x02', honestPrice, { collateral: 2n * OPEN }), staked()],
      ]),
      rules(),
    )
    expect(bonded.map((r) => r.item)).toEqual(['bonded', 'cheap'])
  })

  it('ranks a provider with a slash on record after every clean bidder, whatever its price or record', () => {
    // the cheater of the load benchmark: lowest price, many completed jobs, one caught fraud
    const caught = { completed: 12, slashed: 1, noShows: 0 }
    const { ranked } = rankBids(
      candidates([
        ['cheater', bid('0x01', honestPrice / 2n, { collateral: 100n * OPEN }), staked(caught)],
        ['stranger', bid('0x02', honestPrice), staked()],
        ['no-show', bid('0x03', honestPrice), staked({ completed: 0, slashed: 0, noShows: 1 })],
      ]),
      rules(),
    )
    // by expected cost alone the cheater (risk 3/17) would beat the stranger (risk 1)
    expect(ranked.map((r) => r.item)).toEqual(['stranger', 'no-show', 'cheater'])
    // the only usable bidders convicted: still awarded, the lower risk first
    const { ranked: onlyConvicted } = rankBids(
      candidates([
        ['twice', bid('0x01', honestPrice), staked({ completed: 0, slashed: 2, noShows: 0 })],
        ['once', bid('0x02', honestPrice), staked({ completed: 0, slashed: 1, noShows: 0 })],
      ]),
      rules(),
    )
    expect(onlyConvicted.map((r) => r.item)).toEqual(['once', 'twice'])
    expect(convicted(caught)).toBe(true)
    expect(convicted({ completed: 0, slashed: 0, noShows: 3 })).toBe(false)
  })

  it('drops bids that cannot lead to a paid job before ranking', () => {
    const { ranked, dropped } = rankBids(
      candidates([
        ['no stake', bid('0x01', honestPrice), staked(proven, 0n)],
        ['tiny stake', bid('0x02', honestPrice), staked(proven, OPEN - 1n)],
        ['absurd', bid('0x03', 1n), staked(proven)],
        ['slow', bid('0x04', honestPrice, { etaSeconds: 400 }), staked(proven)],
        ['no-show', bid('0x05', honestPrice), staked(proven)],
        ['self', bid(REQUESTER, honestPrice), staked(proven)],
        ['stale', bid('0x06', honestPrice, { expiry: 900n }), staked(proven)],
        ['good', bid('0x07', honestPrice), staked(proven, OPEN)],
      ]),
      rules({ excluded: new Set(['0x05']) }),
    )
    expect(ranked.map((r) => r.item)).toEqual(['good'])
    expect(Object.fromEntries(dropped.map((d) => [d.item, d.reason]))).toEqual({
      'no stake': 'under-staked',
      'tiny stake': 'under-staked',
      absurd: 'below-floor',
      slow: 'eta-too-long',
      'no-show': 'excluded',
      self: 'self',
      stale: 'expired',
    })
  })

  it('prices the floor per sample, or per optimizer step for training', () => {
    expect(pricedUnits(offer())).toBe(64n)
    expect(priceFloor(offer(), 10n)).toBe(640n)
    // 64 samples in batches of 16 for 3 epochs: 12 steps
    const training = offer({ kind: 1, microBatchSize: 16 }, { epochs: 3 })
    expect(pricedUnits(training)).toBe(12n)
    expect(pricedUnits(offer({ kind: 1, microBatchSize: 16 }))).toBe(4n)
  })

  it('awards only while the award lands before the bidding end', () => {
    const o = offer()
    expect(awardFits(990n, o)).toBe(true)
    expect(awardFits(998n, o)).toBe(true)
    expect(awardFits(999n, o)).toBe(false)
    expect(awardFits(1_200n, o)).toBe(false)
  })
})
