/**
 * Compact batches (JobMarket.awardCompact) on anvil with the real contracts: the market stores a
 * lane per job and every call on the batch passes the jobs' records, checked against the batch
 * id. What must hold: money and stake move exactly as for stored jobs, to the wei; forged
 * records, foreign commits and replayed offers are refused; a forged result is still convicted
 * per job by the DisputeCourt once the job is materialized, and a no-show still expires.
 */
import type { OfferTerms } from '@ocn/protocol'
import { MerkleTree } from '@ocn/protocol'
import type { Address } from 'viem'
import { keccak256, toHex } from 'viem'
import { getBlock } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  award,
  awardCompact,
  COMPACT_SALT,
  ContractsClientError,
  commitCompact,
  compactSalt,
  depositBalance,
  executeDispute,
  expire,
  finalize,
  finalizeCompact,
  getCompactBatch,
  getCompactJobState,
  getJob,
  getMarketAccount,
  getProviderRecord,
  getTokenBalance,
  materializeCompactJob,
  setPayoutToBalance,
} from '../src/index.js'
import {
  advance,
  type CourtProtocol,
  commitLeafChallenge,
  drawVoteRule,
  e,
  FORGED_LEAF,
  forgedData,
  honestChoice,
  lockedOf,
  makeVerifier,
  reveal,
  setupCourt,
  snapshot,
  treasuryWealth,
  trueData,
} from './court-helpers.js'
import { approveMarket, expectRevert, makeBid, makeOffer, stakeAs, type Wallet } from './helpers.js'

const BPS = 10_000n
let p: CourtProtocol
let jobMarket: Address
let saltNumber = 0n

beforeAll(async () => {
  p = await setupCourt()
  jobMarket = p.deployment.addresses.jobMarket
  await stakeAs(p, p.provider, e('5000'))
  await stakeAs(p, p.extra, e('5000'))
  await makeVerifier(p, p.verifier)
  await approveMarket(p, p.requester, e('100000'))
}, 120_000)

afterAll(async () => {
  await p?.chain.stop()
})

/** A compact offer (8 samples, one leaf unless told) with the requester's next compact salt. */
async function compactOffer(overrides: Partial<OfferTerms> = {}): Promise<OfferTerms> {
  saltNumber += 1n
  return makeOffer(p, { sampleCount: 8, microBatchSize: 8, salt: compactSalt(saltNumber), ...overrides })
}

/** Signed awards, the i-th to `providers[i]` at price 10 + i OPEN and collateral 100 + i. */
async function compactAwards(providers: readonly Wallet[], overrides: Partial<OfferTerms> = {}) {
  const awards = []
  for (const [i, w] of providers.entries()) {
    const offer = await compactOffer(overrides)
    const terms = {
      provider: w.account.address,
      price: e('10') + BigInt(i),
      collateral: e('100') + BigInt(i),
    }
    awards.push({ offer, ...(await makeBid(p, offer, terms, w)) })
  }
  return awards
}

const rootOf = (i: number) => keccak256(toHex(`compact result ${i}`))
/** The protocol fee of every job here: the deployment's terms (no test changes them). */
const feeBps = () => BigInt(p.deployment.params.protocolFeeBps)

describe('a compact batch', () => {
  it('is awarded, committed and finalized over two providers, paid and unlocked to the wei', async () => {
    const { token } = p.deployment.addresses
    const requester = p.requester.account.address
    // the requester's balance covers the first two prices only; the rest is escrowed
    await depositBalance(p.requester, { jobMarket, amount: e('21') })
    await setPayoutToBalance(p.extra, { jobMarket, enabled: true })
    const providers = [p.provider, p.provider, p.extra, p.extra, p.provider]
    const awards = await compactAwards(providers)
    const fee = feeBps()
    const tokensBefore = await getTokenBalance(p.admin, { token, account: requester })
    const locked = [await lockedOf(p, p.provider.account.address), await lockedOf(p, p.extra.account.address)]
    const batch = await awardCompact(p.requester, { jobMarket, awards })

    expect(batch.jobs.map((j) => j.jobId)).toEqual(awards.map((a) => a.bid.jobId))
    expect(batch.jobs.map((j) => j.fundedFromBalance)).toEqual([true, true, false, false, false])
    expect(batch.jobs.map((j) => j.payoutToBalance)).toEqual([false, false, true, true, false])
    expect(await getCompactBatch(p.admin, { jobMarket, batchId: batch.batchId })).toEqual({
      batchId: batch.batchId,
      jobs: batch.jobs,
    })
    const escrowed = awards.slice(2).reduce((s, a) => s + a.bid.price, 0n)
    expect(await getTokenBalance(p.admin, { token, account: requester })).toBe(tokensBefore - escrowed)
    expect((await getMarketAccount(p.admin, { jobMarket, account: requester })).balance).toBe(
      e('21') - awards[0]!.bid.price - awards[1]!.bid.price,
    )
    const collateralOf = (w: Wallet) =>
      awards.filter((a) => a.bid.provider === w.account.address).reduce((s, a) => s + a.bid.collateral, 0n)
    expect(await lockedOf(p, p.provider.account.address)).toBe(locked[0]! + collateralOf(p.provider))
    expect(await lockedOf(p, p.extra.account.address)).toBe(locked[1]! + collateralOf(p.extra))
    // the lane is the only storage: no stored job behind the id
    expect((await getJob(p.admin, { jobMarket, jobId: batch.jobs[0]!.jobId })).status).toBe('none')

    const mine = (w: Wallet) =>
      providers.flatMap((x, i) => (x === w ? [{ index: i, resultRoot: rootOf(i) }] : []))
    const committed = await commitCompact(p.provider, {
      jobMarket,
      jobs: batch.jobs,
      commits: mine(p.provider),
    })
    const committedAt = (await getBlock(p.admin, { blockNumber: committed.receipt.blockNumber })).timestamp
    await commitCompact(p.extra, { jobMarket, jobs: batch.jobs, commits: mine(p.extra) })
    const lane = await getCompactJobState(p.admin, { jobMarket, batchId: batch.batchId, index: 4 })
    expect(lane).toMatchObject({ status: 'committed', moved: false })
    expect(BigInt(lane.challengeEnds)).toBe(committedAt + BigInt(p.deployment.params.challengeWindow))

    const early = await finalizeCompact(p.other, { jobMarket, jobs: batch.jobs })
    expect(early.finalized).toEqual([])
    await advance(p, p.deployment.params.challengeWindow + 1)
    const providerTokens = await getTokenBalance(p.admin, { token, account: p.provider.account.address })
    const extraBalance = (await getMarketAccount(p.admin, { jobMarket, account: p.extra.account.address }))
      .balance
    const record = await getProviderRecord(p.admin, { jobMarket, provider: p.provider.account.address })
    const treasury = await treasuryWealth(p)
    // the provider's jobs listed together: one transfer and one unlock per provider run
    const done = await finalizeCompact(p.other, { jobMarket, jobs: batch.jobs, indices: [0, 1, 4, 2, 3] })
    expect(done.finalized).toHaveLength(5)
    const payout = (a: (typeof awards)[number]) => a.bid.price - (a.bid.price * fee) / BPS
    const paidTo = (w: Wallet) =>
      awards.filter((a) => a.bid.provider === w.account.address).reduce((s, a) => s + payout(a), 0n)
    expect(await getTokenBalance(p.admin, { token, account: p.provider.account.address })).toBe(
      providerTokens + paidTo(p.provider),
    )
    expect((await getMarketAccount(p.admin, { jobMarket, account: p.extra.account.address })).balance).toBe(
      extraBalance + paidTo(p.extra),
    )
    expect(await treasuryWealth(p)).toBe(treasury + awards.reduce((s, a) => s + a.bid.price - payout(a), 0n))
    const after = await getProviderRecord(p.admin, { jobMarket, provider: p.provider.account.address })
    expect(after.completed).toBe(record.completed + 3)
    expect(await lockedOf(p, p.provider.account.address)).toBe(locked[0])
    expect(await lockedOf(p, p.extra.account.address)).toBe(locked[1])
    // a second finalize pays nothing
    const again = await finalizeCompact(p.other, { jobMarket, jobs: batch.jobs })
    expect([again.finalized, again.skipped.length]).toEqual([[], 5])
  })

  it('refuses forged records, foreign and late commits; a forged finalize pays nothing', async () => {
    const batch = await awardCompact(p.requester, {
      jobMarket,
      awards: await compactAwards([p.provider, p.provider]),
    })
    const forged = batch.jobs.map((j, i) => (i === 0 ? { ...j, price: j.price * 2n } : j))
    const commit = [{ index: 0, resultRoot: rootOf(0) }]
    await expectRevert(
      commitCompact(p.provider, { jobMarket, jobs: forged, commits: commit }),
      'InvalidJobStatus',
    )
    await expectRevert(
      commitCompact(p.extra, { jobMarket, jobs: batch.jobs, commits: commit }),
      'NotProvider',
    )
    await expectRevert(
      commitCompact(p.provider, {
        jobMarket,
        jobs: batch.jobs,
        commits: [{ index: 2, resultRoot: rootOf(2) }],
      }),
      'CompactIndexOutOfRange',
    )
    await expectRevert(
      commitCompact(p.provider, {
        jobMarket,
        jobs: batch.jobs,
        commits: [{ index: 0, resultRoot: `0x${'00'.repeat(32)}` }],
      }),
      'EmptyCommitment',
    )
    // bad input from the caller: a clear error, before anything is sent
    const outside = await materializeCompactJob(p.other, { jobMarket, jobs: batch.jobs, index: 2 }).catch(
      (e) => e,
    )
    expect(outside).toBeInstanceOf(ContractsClientError)
    expect((outside as ContractsClientError).code).toBe('INVALID_ARGUMENT')
    const unknown = await getCompactBatch(p.admin, {
      jobMarket,
      batchId: keccak256(toHex('no such batch')),
    }).catch((e) => e)
    expect(unknown).toBeInstanceOf(ContractsClientError)
    expect((unknown as ContractsClientError).message).toContain('no compact batch')
    await commitCompact(p.provider, { jobMarket, jobs: batch.jobs, commits: commit })
    await expectRevert(
      commitCompact(p.provider, { jobMarket, jobs: batch.jobs, commits: commit }),
      'InvalidJobStatus',
    )
    await advance(p, p.deployment.params.challengeWindow + 1)
    const before = await getTokenBalance(p.admin, {
      token: p.deployment.addresses.token,
      account: p.provider.account.address,
    })
    // the forged records name no batch: every job is skipped, nothing is paid
    const forgedRun = await finalizeCompact(p.other, { jobMarket, jobs: forged })
    expect(forgedRun.finalized).toEqual([])
    expect(
      await getTokenBalance(p.admin, {
        token: p.deployment.addresses.token,
        account: p.provider.account.address,
      }),
    ).toBe(before)
    // the uncommitted job's deadline passes: it can no longer be committed
    await advance(p, 3600)
    await expectRevert(
      commitCompact(p.provider, {
        jobMarket,
        jobs: batch.jobs,
        commits: [{ index: 1, resultRoot: rootOf(1) }],
      }),
      'CommitDeadlinePassed',
    )
    const settled = await finalizeCompact(p.other, { jobMarket, jobs: batch.jobs })
    expect(settled.finalized).toEqual([batch.jobs[0]!.jobId])
  })

  it('awards an offer once, in one place: salt spaces and used salts', async () => {
    const [compact] = await compactAwards([p.provider])
    await expectRevert(award(p.requester, { jobMarket, ...compact! }), 'SaltSpaceMismatch')
    const plain = await makeOffer(p, { sampleCount: 8, microBatchSize: 8 })
    await expectRevert(
      awardCompact(p.requester, { jobMarket, awards: [{ offer: plain, ...(await makeBid(p, plain)) }] }),
      'SaltSpaceMismatch',
    )
    // the compact space is a tag, not a range: ordinary awards keep every other salt, the
    // random 256-bit ones a node draws included (half of them are at or above 2^255)
    for (const salt of [1n << 255n, COMPACT_SALT - 1n, COMPACT_SALT + (1n << 224n), (1n << 256n) - 1n]) {
      const offer = await makeOffer(p, { salt })
      const awarded = await award(p.requester, { jobMarket, offer, ...(await makeBid(p, offer)) })
      expect((await getJob(p.admin, { jobMarket, jobId: awarded.jobId })).status).toBe('awarded')
    }
    // the same offer twice in one batch, with two bids of the provider
    const twice = { offer: compact!.offer, ...(await makeBid(p, compact!.offer)) }
    await expectRevert(awardCompact(p.requester, { jobMarket, awards: [compact!, twice] }), 'SaltAlreadyUsed')
    await awardCompact(p.requester, { jobMarket, awards: [compact!] })
    // again in a later batch, with a fresh bid
    await expectRevert(awardCompact(p.requester, { jobMarket, awards: [twice] }), 'SaltAlreadyUsed')
    for (const kind of [{ kind: 1 }, { verification: 1 }]) {
      const offer = await compactOffer(kind)
      await expectRevert(
        awardCompact(p.requester, { jobMarket, awards: [{ offer, ...(await makeBid(p, offer)) }] }),
        'NotCompactable',
      )
    }
  })
})

describe('a compact job in dispute', () => {
  it('is materialized, challenged and convicted per job; its batch-mate is paid; to the wei', async () => {
    const { courtParams: c } = p
    const market = p.deployment.params
    const everyone = [p.requester, p.provider, p.verifier, p.other].map((w) => w.account.address)
    const before = await snapshot(p, everyone)
    const lockedBefore = await lockedOf(p, p.provider.account.address)
    const offers = [await compactOffer({ sampleCount: 64 }), await compactOffer({ sampleCount: 64 })]
    const awards = []
    for (const offer of offers) awards.push({ offer, ...(await makeBid(p, offer, { collateral: e('200') })) })
    const batch = await awardCompact(p.requester, { jobMarket, awards })
    const forged = MerkleTree.fromDataHashes([...forgedData])
    const honest = MerkleTree.fromDataHashes([...trueData])
    await commitCompact(p.provider, {
      jobMarket,
      jobs: batch.jobs,
      commits: [
        { index: 0, resultRoot: forged.root },
        { index: 1, resultRoot: honest.root },
      ],
    })

    // the verifier moves the forged job into ordinary storage, then challenges it as any job
    const { jobId } = await materializeCompactJob(p.verifier, { jobMarket, jobs: batch.jobs, index: 0 })
    const stored = await getJob(p.admin, { jobMarket, jobId })
    expect(stored).toMatchObject({ status: 'committed', price: awards[0]!.bid.price, leafCount: 8 })
    expect(stored.resultRoot).toBe(forged.root)
    expect(await getCompactJobState(p.admin, { jobMarket, batchId: batch.batchId, index: 0 })).toMatchObject({
      moved: true,
    })
    await expectRevert(
      materializeCompactJob(p.other, { jobMarket, jobs: batch.jobs, index: 0 }),
      'InvalidJobStatus',
    )
    const challenge = await commitLeafChallenge(p, p.verifier, jobId, FORGED_LEAF)
    await reveal(p, p.verifier, challenge)
    await drawVoteRule(p, challenge.disputeId, () => honestChoice(BigInt(FORGED_LEAF)))
    await advance(p, market.challengeWindow + c.appealPeriod)
    // the batch skips the moved job and pays its mate; the moved one waits for its dispute
    const run = await finalizeCompact(p.other, { jobMarket, jobs: batch.jobs })
    expect([run.finalized, run.skipped]).toEqual([[batch.jobs[1]!.jobId], [jobId]])
    await expectRevert(finalize(p.other, { jobMarket, jobId }), 'DisputeOpen')
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: challenge.disputeId })
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('providerSlashed')

    const after = await snapshot(p, everyone)
    const delta = (w: Wallet) => after.get(w.account.address)! - before.get(w.account.address)!
    const fee = feeBps()
    const honestPay = awards[1]!.bid.price - (awards[1]!.bid.price * fee) / BPS
    const penalty = (e('200') * BigInt(market.cheatSlashBps)) / BPS
    const reward = (penalty * BigInt(market.challengerRewardBps)) / BPS
    // the requester paid for the honest job only; the cheat cost the provider its penalty
    expect(delta(p.requester)).toBe(-awards[1]!.bid.price)
    expect(delta(p.provider)).toBe(honestPay - penalty)
    expect(delta(p.verifier)).toBe(reward)
    expect(await lockedOf(p, p.provider.account.address)).toBe(lockedBefore)
  })

  it('a no-show is materialized after its deadline and expired: refunded and slashed to the wei', async () => {
    const market = p.deployment.params
    const { token } = p.deployment.addresses
    const [one] = await compactAwards([p.provider])
    const requesterBefore = await getTokenBalance(p.admin, { token, account: p.requester.account.address })
    const lockedBefore = await lockedOf(p, p.provider.account.address)
    const treasury = await treasuryWealth(p)
    const batch = await awardCompact(p.requester, { jobMarket, awards: [one!] })
    // an awarded job may be moved before its deadline too; it still cannot expire early
    const { jobId } = await materializeCompactJob(p.other, { jobMarket, jobs: batch.jobs, index: 0 })
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('awarded')
    await expectRevert(expire(p.other, { jobMarket, jobId }), 'DeadlineNotPassed')
    await advance(p, 3601)
    await expire(p.other, { jobMarket, jobId })
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('expired')
    expect(await getTokenBalance(p.admin, { token, account: p.requester.account.address })).toBe(
      requesterBefore,
    )
    const penalty = (one!.bid.collateral * BigInt(market.noShowSlashBps)) / BPS
    expect(await treasuryWealth(p)).toBe(treasury + penalty)
    expect(await lockedOf(p, p.provider.account.address)).toBe(lockedBefore)
  })
})
