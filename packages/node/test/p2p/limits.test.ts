/**
 * The bounds of issue 13, unit by unit (no sockets): fair upload slots with a reserve for
 * awarded providers, transfer deadlines scaled to size, the penalty box behind stall refusals
 * and gossipsub's app score, the requester-funds cache, and the gossip validator turning a
 * flood of ignored messages into rejects.
 */
import { encodeJobOffer } from '@ocn/protocol'
import { Registry } from 'prom-client'
import type { Address } from 'viem'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/core/logger.js'
import { GossipValidator } from '../../src/p2p/gossip-validation.js'
import {
  createP2PMetrics,
  defaultGossipOptions,
  type Funds,
  OFFERS_TOPIC,
  PeerPenalties,
  RequesterFunds,
  transferDeadlineMs,
  UploadSlots,
} from '../../src/p2p/index.js'
import { domain, makeIdentity, signedOffer } from './helpers.js'

describe('upload slots', () => {
  it('one peer takes at most its share; strangers together leave the reserve to trusted peers', () => {
    const slots = new UploadSlots({ total: 8, reservedForTrusted: 2, maxPerPeer: 2, maxPerTrustedPeer: 4 })
    const held = [slots.acquire('a', false), slots.acquire('a', false)]
    expect(held.every((s) => typeof s !== 'string')).toBe(true)
    expect(slots.acquire('a', false)).toBe('peer-share')
    for (const peer of ['b', 'c']) {
      slots.acquire(peer, false)
      slots.acquire(peer, false)
    }
    // six untrusted uploads: the last two slots are the reserve
    expect(slots.acquire('d', false)).toBe('busy')
    const trusted = [slots.acquire('p', true), slots.acquire('p', true)]
    expect(trusted.every((s) => typeof s !== 'string')).toBe(true)
    expect(slots.acquire('q', true)).toBe('busy')
    expect(slots.usage()).toEqual({ uploads: 8, untrusted: 6, peers: 4 })
    const first = held[0]
    if (first === undefined || typeof first === 'string') throw new Error('expected a slot')
    first.release()
    first.release() // twice is once
    expect(slots.usage().uploads).toBe(7)
    expect(typeof slots.acquire('d', false)).not.toBe('string')
  })

  it('a transfer may take the header time plus its size at the minimum rate', () => {
    const options = { requestTimeoutMs: 10_000, minTransferBytesPerSecond: 128 * 1024 }
    expect(transferDeadlineMs(0, options)).toBe(10_000)
    // the 3.2 MB input of the issue: 10 s + 25 s
    expect(transferDeadlineMs(3_276_800, options)).toBe(35_000)
  })
})

describe('peer penalties', () => {
  it('a staller is refused for refuseMs, scored below zero, and forgiven as points decay', () => {
    let now = 0
    const penalties = new PeerPenalties(
      { stallPoints: 1000, refuseMs: 60_000, halfLifeMs: 300_000, capacity: 3 },
      () => now,
    )
    penalties.penalise('x')
    expect(penalties.isRefused('x')).toBe(true)
    expect(penalties.appScore('x')).toBe(-1000)
    penalties.penalise('x')
    expect(penalties.appScore('x')).toBe(-2000)
    now = 60_001
    expect(penalties.isRefused('x')).toBe(false)
    now = 300_000
    expect(penalties.appScore('x')).toBeCloseTo(-1000, 0)
    now = 300_000 * 12
    expect(penalties.appScore('x')).toBe(0)
    expect(penalties.appScore('clean')).toBe(0)
  })

  it('trusted peers are never refused; both maps stay bounded', () => {
    let now = 0
    const penalties = new PeerPenalties(
      { stallPoints: 1000, refuseMs: 60_000, halfLifeMs: 300_000, capacity: 3 },
      () => now,
    )
    penalties.trust('p', 10_000)
    penalties.penalise('p')
    expect(penalties.isRefused('p')).toBe(false)
    now = 10_001
    expect(penalties.isTrusted('p')).toBe(false)
    expect(penalties.isRefused('p')).toBe(true)
    for (let i = 0; i < 100; i++) {
      penalties.penalise(`flood-${i}`)
      penalties.trust(`fresh-${i}`, 1e12)
    }
    expect(penalties.sizes()).toEqual({ penalised: 3, trusted: 3 })
  })
})

describe('requester funds', () => {
  const rich = '0x1111111111111111111111111111111111111111' as Address
  const poor = '0x2222222222222222222222222222222222222222' as Address

  function reader(book: Map<string, Funds>, calls: string[]) {
    return async (requester: Address) => {
      calls.push(requester)
      await new Promise((resolve) => setTimeout(resolve, 5))
      return book.get(requester) ?? { balance: 0n, allowance: 0n }
    }
  }

  it('caches a covering answer for ttlMs, a short one for shortfallTtlMs, one read in flight', async () => {
    let now = 0
    const calls: string[] = []
    const book = new Map<string, Funds>([[rich, { balance: 10n, allowance: 0n }]])
    const funds = new RequesterFunds(
      reader(book, calls),
      { ttlMs: 30_000, shortfallTtlMs: 2_000, capacity: 2, readTimeoutMs: 1_000, requireAllowance: false },
      () => now,
    )
    const verdicts = await Promise.all([funds.covers(rich, 10n), funds.covers(rich, 10n)])
    expect(verdicts).toEqual(['covered', 'covered'])
    expect(calls).toHaveLength(1)
    expect(await funds.covers(rich, 11n)).toBe('short-balance')
    expect(await funds.covers(poor, 1n)).toBe('short-balance')
    expect(calls).toHaveLength(2)
    // the poor requester is funded: heard again once the short answer is 2 s old
    book.set(poor, { balance: 5n, allowance: 0n })
    now = 2_001
    expect(await funds.covers(poor, 1n)).toBe('covered')
    funds.invalidate(rich)
    expect(await funds.covers(rich, 1n)).toBe('covered')
    expect(calls).toHaveLength(4)
    expect(funds.size).toBe(2)
  })

  it('requires the allowance only when asked; a failing read is unknown', async () => {
    const book = new Map<string, Funds>([[rich, { balance: 10n, allowance: 3n }]])
    const strict = new RequesterFunds(reader(book, []), {
      ttlMs: 30_000,
      shortfallTtlMs: 2_000,
      capacity: 8,
      readTimeoutMs: 1_000,
      requireAllowance: true,
    })
    expect(await strict.covers(rich, 3n)).toBe('covered')
    expect(await strict.covers(rich, 4n)).toBe('short-allowance')
    const failing = new RequesterFunds(async () => {
      throw new Error('rpc down')
    })
    expect(await failing.covers(rich, 1n)).toBe('unknown')
  })

  it('counts a prepaid market balance that covers maxPrice (no allowance needed), never a partial one', async () => {
    const deposited = '0x3333333333333333333333333333333333333333' as Address
    const book = new Map<string, Funds>([[deposited, { balance: 4n, allowance: 0n, market: 10n }]])
    const strict = new RequesterFunds(reader(book, []), {
      ttlMs: 0,
      shortfallTtlMs: 0,
      capacity: 8,
      readTimeoutMs: 1_000,
      requireAllowance: true,
    })
    expect(await strict.covers(deposited, 10n)).toBe('covered')
    // 11 > the deposit: the award would pull the whole price from the wallet, which holds 4
    expect(await strict.covers(deposited, 11n)).toBe('short-balance')
    book.set(deposited, { balance: 20n, allowance: 0n, market: 10n })
    expect(await strict.covers(deposited, 11n)).toBe('short-allowance')
    book.set(deposited, { balance: 20n, allowance: 11n, market: 10n })
    expect(await strict.covers(deposited, 11n)).toBe('covered')
  })
})

describe('gossip validator: floods cost the flooder', () => {
  async function validator(funds?: RequesterFunds) {
    const registry = new Registry()
    const v = new GossipValidator({
      options: {
        ...defaultGossipOptions,
        chainId: domain.chainId,
        market: domain.verifyingContract,
        ignoreBudgetBurst: 5,
        ignoreBudgetPerSecond: 0,
      },
      now: Date.now,
      log: silentLogger,
      metrics: createP2PMetrics(registry),
      ...(funds === undefined ? {} : { funds }),
    })
    return { v, registry }
  }

  it('other-chain offers are ignored up to the budget, then rejected (and counted)', async () => {
    const flooder = await makeIdentity()
    const { v, registry } = await validator()
    const verdicts: string[] = []
    for (let i = 0; i < 8; i++) {
      const offer = { ...(await signedOffer(flooder)), chainId: 1 }
      verdicts.push((await v.validate(OFFERS_TOPIC, flooder.peerId, encodeJobOffer(offer))).verdict)
    }
    expect(verdicts).toEqual(['ignore', 'ignore', 'ignore', 'ignore', 'ignore', 'reject', 'reject', 'reject'])
    const metric = await registry.getSingleMetric('ocn_gossip_ignore_escalations_total')?.get()
    expect(metric?.values[0]?.value).toBe(3)
    // the budget is the forwarding peer's: another relay still gets plain ignores
    const offer = { ...(await signedOffer(flooder)), chainId: 1 }
    const other = await v.validate(OFFERS_TOPIC, flooder.peerId, encodeJobOffer(offer), 'another-relay')
    expect(other.verdict).toBe('ignore')
  })

  it('an offer whose requester balance or allowance does not cover maxPrice is ignored; a funded one accepted', async () => {
    const broke = await makeIdentity()
    const funded = await makeIdentity()
    const unapproved = await makeIdentity()
    const book = new Map<string, Funds>([
      [funded.account.address, { balance: 10n ** 18n, allowance: 10n ** 18n }],
      [unapproved.account.address, { balance: 10n ** 18n, allowance: 0n }],
    ])
    const { v } = await validator(
      new RequesterFunds(async (a) => book.get(a) ?? { balance: 0n, allowance: 0n }),
    )
    const poorOffer = encodeJobOffer(await signedOffer(broke))
    expect(await v.validate(OFFERS_TOPIC, broke.peerId, poorOffer)).toEqual({
      verdict: 'ignore',
      reason: 'unfunded-short-balance',
    })
    // rich, but the JobMarket could not pull the escrow: an award would revert
    const unapprovedOffer = encodeJobOffer(await signedOffer(unapproved))
    expect(await v.validate(OFFERS_TOPIC, unapproved.peerId, unapprovedOffer)).toEqual({
      verdict: 'ignore',
      reason: 'unfunded-short-allowance',
    })
    const richOffer = encodeJobOffer(await signedOffer(funded))
    expect((await v.validate(OFFERS_TOPIC, funded.peerId, richOffer)).verdict).toBe('accept')
    expect(v.cacheSizes()).toMatchObject({ seenJobs: 1, signatureVerdicts: 3, requesterFunds: 3 })
  })

  it('a forged offer is rejected once per signature, from the cache after that', async () => {
    const author = await makeIdentity()
    const forger = await makeIdentity()
    const forged = encodeJobOffer(await signedOffer(author, {}, forger.account))
    const { v } = await validator()
    const first = await v.validate(OFFERS_TOPIC, author.peerId, forged)
    expect(first.verdict).toBe('reject')
    // within the publisher's rate limit (burst 20): each replay is judged from the cache
    for (let i = 0; i < 10; i++) expect(await v.validate(OFFERS_TOPIC, author.peerId, forged)).toEqual(first)
    expect(v.cacheSizes().signatureVerdicts).toBe(1)
  })
})
