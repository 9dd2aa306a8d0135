/**
 * Award and settlement rules that protect providers and records, each as the attack it stops,
 * on anvil with the real contracts: a last-second award, a withdrawn bid, a self-award, a
 * sock-puppet record, a mid-job parameter change and a provider that commits another leaf
 * count than the terms fixed.
 */
import { jobIdOf, MerkleTree } from '@ocn/protocol'
import { type Address, keccak256, parseEther, toHex } from 'viem'
import { readContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jobMarketAbi } from '../src/generated/abis.js'
import {
  award,
  commitResult,
  expire,
  finalize,
  getJob,
  getJobTerms,
  getMarketParams,
  getProviderRecord,
  getStake,
  getTokenBalance,
  invalidateNonces,
  isNonceUsed,
  nonceWordAndMask,
  setChallengeWindow,
  setMinRecordPrice,
  setProtocolFee,
  setSlashFractions,
  sweepTreasury,
} from '../src/index.js'
import {
  advance,
  approveMarket,
  chainTime,
  expectRevert,
  makeBid,
  makeOffer,
  type Protocol,
  setupProtocol,
  stakeAs,
} from './helpers.js'

const e = parseEther
const BPS = 10_000n
let p: Protocol
let jobMarket: Address
let stakeManager: Address

beforeAll(async () => {
  p = await setupProtocol({ challengeWindow: 600, unbondingDelay: 3600n, minRecordPrice: e('0.01') })
  ;({ jobMarket, stakeManager } = p.deployment.addresses)
  await stakeAs(p, p.provider, e('10000'))
  await stakeAs(p, p.requester, e('1000'))
  await approveMarket(p, p.requester, e('1000000'))
})
afterAll(async () => {
  await p?.chain.stop()
})

/** A tree of `n` leaves, the count an offer of n samples in micro-batches of one fixes. */
const treeOf = (n: number) =>
  MerkleTree.fromDataHashes(Array.from({ length: n }, (_, i) => keccak256(toHex(`leaf ${i}`))))

describe('last-second award', () => {
  it('reverts BiddingClosed after the bidding end, even with the deadline far off', async () => {
    const offer = await makeOffer(p)
    const { bid, signature } = await makeBid(p, offer)
    await advance(p, 61) // biddingEnds = now + 60
    const err = await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'BiddingClosed')
    expect(err.args).toEqual([jobIdOf(offer), offer.biddingEnds])
  })

  it('reverts EtaPastDeadline when now + etaSeconds passes the deadline, and awards when it fits', async () => {
    const now = await chainTime(p.admin)
    // the requester sets a deadline the provider's eta cannot make from now on
    const offer = await makeOffer(p, { biddingEnds: now + 600n, deadline: now + 300n })
    const late = await makeBid(p, offer, { etaSeconds: 400 })
    const err = await expectRevert(
      award(p.requester, { jobMarket, offer, bid: late.bid, signature: late.signature }),
      'EtaPastDeadline',
    )
    expect(err.args[2]).toBe(offer.deadline)
    expect(err.args[1] as bigint).toBeGreaterThan(offer.deadline)
    const fits = await makeBid(p, offer, { etaSeconds: 200 })
    await award(p.requester, { jobMarket, offer, bid: fits.bid, signature: fits.signature })
  })
})

describe('withdrawn bid', () => {
  it('cannot be awarded once the provider invalidated its nonce', async () => {
    const offer = await makeOffer(p)
    const { bid, signature } = await makeBid(p, offer, { nonce: 1000n + 7n })
    const { word, mask } = nonceWordAndMask([bid.nonce, 1000n + 9n])
    expect(word).toBe(3n)
    await invalidateNonces(p.provider, { jobMarket, word, mask })
    expect(
      await isNonceUsed(p.provider, { jobMarket, provider: p.provider.account.address, nonce: bid.nonce }),
    ).toBe(true)
    // the same nonce of another provider is untouched
    expect(
      await isNonceUsed(p.provider, { jobMarket, provider: p.other.account.address, nonce: bid.nonce }),
    ).toBe(false)
    const err = await expectRevert(
      award(p.requester, { jobMarket, offer, bid, signature }),
      'NonceAlreadyUsed',
    )
    expect(err.args).toEqual([p.provider.account.address, bid.nonce])
    expect(() => nonceWordAndMask([1n, 256n])).toThrow(/same 256-nonce word/)
  })
})

describe('self-award and sock-puppet records', () => {
  it('reverts SelfAward when the requester names itself as the provider, at price 0', async () => {
    const offer = await makeOffer(p, { minCollateral: 0n })
    const { bid, signature } = await makeBid(
      p,
      offer,
      { provider: p.requester.account.address, price: 0n, collateral: 0n },
      p.requester,
    )
    const err = await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'SelfAward')
    expect(err.args).toEqual([p.requester.account.address])
  })

  it('pays a job below minRecordPrice but does not count it toward completed; one at the price counts', async () => {
    const provider = p.provider.account.address
    const before = await getProviderRecord(p.admin, { jobMarket, provider })
    const cheap = e('0.01') - 1n
    await settledJob({ price: cheap })
    const afterCheap = await getProviderRecord(p.admin, { jobMarket, provider })
    expect(afterCheap.completed).toBe(before.completed)
    expect(afterCheap.totalEarned - before.totalEarned).toBe(cheap - (cheap * 250n) / BPS)
    await settledJob({ price: e('0.01') })
    expect((await getProviderRecord(p.admin, { jobMarket, provider })).completed).toBe(before.completed + 1)
  })
})

describe('terms fixed at award', () => {
  it('settles with the fee of the award and commits with its window, after governance raised both', async () => {
    const offer = await makeOffer(p, { sampleCount: 4, microBatchSize: 1 })
    const { bid, signature } = await makeBid(p, offer)
    const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
    const awarded = await getJobTerms(p.admin, { jobMarket, jobId })
    expect(awarded.protocolFeeBps).toBe(250)

    const market = await getMarketParams(p.admin, { jobMarket, stakeManager })
    await setProtocolFee(p.admin, { jobMarket, protocolFeeBps: 2_000 })
    await setSlashFractions(p.admin, { jobMarket, cheatSlashBps: 10_000, noShowSlashBps: 9_000 })
    await setChallengeWindow(p.admin, { jobMarket, challengeWindow: 1_800 })
    expect((await getJobTerms(p.admin, { jobMarket, jobId })).protocolFeeBps).toBe(250)

    const tree = treeOf(4)
    await commitResult(p.provider, { jobMarket, jobId, resultRoot: tree.root, leafCount: 4 })
    const committed = await getJob(p.admin, { jobMarket, jobId })
    const now = await chainTime(p.admin)
    expect(BigInt(committed.challengeEnds)).toBe(now + 600n) // the award's window, not 1 800
    await advance(p, 601)

    const balance = await getTokenBalance(p.admin, {
      token: p.deployment.addresses.token,
      account: bid.provider,
    })
    const accrued = await treasuryAccrued()
    await finalize(p.other, { jobMarket, jobId })
    const fee = (bid.price * 250n) / BPS
    expect(
      (await getTokenBalance(p.admin, { token: p.deployment.addresses.token, account: bid.provider })) -
        balance,
    ).toBe(bid.price - fee)
    expect((await treasuryAccrued()) - accrued).toBe(fee)
    expect(market.protocolFeeBps).toBe(250)
  })

  it('expires with the no-show slash of the award, and a job awarded after the change gets the new terms', async () => {
    const offer = await makeOffer(p, { sampleCount: 4, microBatchSize: 1 })
    const { bid, signature } = await makeBid(p, offer)
    // awarded under the raised terms of the test above (fee 2 000, no-show 9 000)
    const { jobId: newer } = await award(p.requester, { jobMarket, offer, bid, signature })
    expect((await getJobTerms(p.admin, { jobMarket, jobId: newer })).noShowSlashBps).toBe(9_000)

    const old = await makeOffer(p, { sampleCount: 4, microBatchSize: 1 })
    const oldBid = await makeBid(p, old)
    await setSlashFractions(p.admin, { jobMarket, cheatSlashBps: 10_000, noShowSlashBps: 1_000 })
    const { jobId } = await award(p.requester, { jobMarket, offer: old, ...oldBid })
    await setSlashFractions(p.admin, { jobMarket, cheatSlashBps: 10_000, noShowSlashBps: 10_000 })
    await advance(p, 3601)

    const provider = p.provider.account.address
    const stakeBefore = await getStake(p.admin, { stakeManager, account: provider })
    const accrued = await treasuryAccrued()
    await expire(p.other, { jobMarket, jobId })
    const slash = (oldBid.bid.collateral * 1_000n) / BPS
    const stakeAfter = await getStake(p.admin, { stakeManager, account: provider })
    expect(stakeBefore.staked - stakeAfter.staked).toBe(slash)
    expect((await treasuryAccrued()) - accrued).toBe(slash)

    await expire(p.other, { jobMarket, jobId: newer })
    const slashNewer = (bid.collateral * 9_000n) / BPS
    expect(stakeAfter.staked - (await getStake(p.admin, { stakeManager, account: provider })).staked).toBe(
      slashNewer,
    )

    // the sweep collects what every set of terms accrued, to the wei
    const owed = await treasuryAccrued()
    const token = p.deployment.addresses.token
    const treasury = p.treasury.account.address
    const held = await getTokenBalance(p.admin, { token, account: treasury })
    await sweepTreasury(p.other, { jobMarket })
    expect((await getTokenBalance(p.admin, { token, account: treasury })) - held).toBe(owed)
    expect(await treasuryAccrued()).toBe(0n)
  })

  it('records minRecordPrice changes as new terms for later awards only', async () => {
    await setMinRecordPrice(p.admin, { jobMarket, minRecordPrice: e('1') })
    expect((await getMarketParams(p.admin, { jobMarket, stakeManager })).minRecordPrice).toBe(e('1'))
    await expectRevert(getJobTerms(p.admin, { jobMarket, jobId: `0x${'11'.repeat(32)}` }), 'InvalidJobStatus')
    await setMinRecordPrice(p.admin, { jobMarket, minRecordPrice: e('0.01') })
  })
})

describe('leaf count fixed by the terms', () => {
  it('reverts LeafCountMismatch for an inflated or short count, and accepts the count of the terms', async () => {
    // 10 samples in micro-batches of 4: ceil(10 / 4) = 3 leaves
    const offer = await makeOffer(p, { sampleCount: 10, microBatchSize: 4 })
    const { bid, signature } = await makeBid(p, offer)
    const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
    expect((await getJob(p.admin, { jobMarket, jobId })).leafCount).toBe(3)
    for (const leafCount of [4096, 2]) {
      const tree = treeOf(leafCount)
      const err = await expectRevert(
        commitResult(p.provider, { jobMarket, jobId, resultRoot: tree.root, leafCount }),
        'LeafCountMismatch',
      )
      expect(err.args).toEqual([jobId, 3, leafCount])
    }
    await commitResult(p.provider, { jobMarket, jobId, resultRoot: treeOf(3).root, leafCount: 3 })
  })

  it('fixes a training job at one leaf per checkpoint: ceil(steps / interval) + 1', async () => {
    // 24 optimizer steps, a checkpoint every 5: steps 0, 5, 10, 15, 20 and 24
    const offer = await makeOffer(p, { kind: 1, sampleCount: 24, microBatchSize: 5 })
    const { bid, signature } = await makeBid(p, offer)
    const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
    const job = await getJob(p.admin, { jobMarket, jobId })
    expect(job.leafCount).toBe(6)
    expect(job.training).toBe(true)
    // one attribution leaf after the checkpoints is allowed, a second is not, nor one fewer
    for (const leafCount of [5, 8]) {
      await expectRevert(
        commitResult(p.provider, { jobMarket, jobId, resultRoot: treeOf(leafCount).root, leafCount }),
        'LeafCountMismatch',
      )
    }
    await commitResult(p.provider, { jobMarket, jobId, resultRoot: treeOf(7).root, leafCount: 7 })
    expect((await getJob(p.admin, { jobMarket, jobId })).leafCount).toBe(7)
  })

  it('allows no extra leaf on an inference job', async () => {
    const offer = await makeOffer(p, { sampleCount: 4, microBatchSize: 2 })
    const { bid, signature } = await makeBid(p, offer)
    const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
    expect((await getJob(p.admin, { jobMarket, jobId })).training).toBe(false)
    await expectRevert(
      commitResult(p.provider, { jobMarket, jobId, resultRoot: treeOf(3).root, leafCount: 3 }),
      'LeafCountMismatch',
    )
  })

  it('rejects an offer with no leaves (zero micro-batch size, or no samples)', async () => {
    for (const terms of [{ microBatchSize: 0 }, { sampleCount: 0 }]) {
      const offer = await makeOffer(p, terms)
      const { bid, signature } = await makeBid(p, offer)
      await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'InvalidOffer')
    }
  })
})

async function treasuryAccrued(): Promise<bigint> {
  return readContract(p.admin, { address: jobMarket, abi: jobMarketAbi, functionName: 'treasuryAccrued' })
}

/** Awards, commits and finalizes a one-leaf job at `price`. */
async function settledJob({ price }: { price: bigint }): Promise<void> {
  const offer = await makeOffer(p, { sampleCount: 1, microBatchSize: 1 })
  const { bid, signature } = await makeBid(p, offer, { price })
  const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
  await commitResult(p.provider, { jobMarket, jobId, resultRoot: treeOf(1).root, leafCount: 1 })
  const { challengeEnds } = await getJob(p.admin, { jobMarket, jobId })
  await advance(p, Number(BigInt(challengeEnds) - (await chainTime(p.admin))) + 1)
  await finalize(p.other, { jobMarket, jobId })
}
