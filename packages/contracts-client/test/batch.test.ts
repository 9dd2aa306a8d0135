/**
 * Batched settlement on anvil with the real contracts: a requester awards several jobs in one
 * transaction, the provider commits them in one, anyone finalizes them in one. Award and commit
 * batches are all or nothing; a finalize batch skips (with `FinalizeSkipped`) the jobs `finalize`
 * would refuse, such as one the DisputeCourt holds, and pays the rest to the wei.
 */
import { keccak256, parseEther, toHex, zeroHash } from 'viem'
import { readContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  approveToken,
  awardBatch,
  challengeCommitment,
  commitBatch,
  commitChallenge,
  expireChallenge,
  finalizeBatch,
  getJob,
  getJobTerms,
  getProviderRecord,
  getStake,
  getTokenBalance,
  jobMarketAbi,
} from '../src/index.js'
import {
  advance,
  approveMarket,
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

beforeAll(async () => {
  p = await setupProtocol()
  await stakeAs(p, p.provider, e('5000'))
  await stakeAs(p, p.verifier, e('1000'))
  await approveMarket(p, p.requester, e('10000'))
})

afterAll(async () => {
  await p?.chain.stop()
})

/** `n` signed awards with distinct prices (sampleCount 8 in micro-batches of 8: one leaf). */
async function signedAwards(n: number) {
  const awards = []
  for (let i = 0; i < n; i++) {
    const offer = await makeOffer(p, { sampleCount: 8, microBatchSize: 8 })
    awards.push({ offer, ...(await makeBid(p, offer, { price: e('10') + BigInt(i) })) })
  }
  return awards
}

const rootOf = (i: number) => keccak256(toHex(`result ${i}`))

describe('awardBatch and commitBatch', () => {
  it('revert as a whole: one bad bid or one foreign commit leaves every job as it was', async () => {
    const jobMarket = p.deployment.addresses.jobMarket
    const awards = await signedAwards(3)
    const bad = { ...awards[2]!, bid: { ...awards[2]!.bid, price: e('60') } } // above maxPrice
    await expectRevert(awardBatch(p.requester, { jobMarket, awards: [awards[0]!, bad] }), 'PriceAboveMax')
    await expectRevert(awardBatch(p.requester, { jobMarket, awards: [] }), 'BatchLengthMismatch')
    expect((await getJob(p.admin, { jobMarket, jobId: awards[0]!.bid.jobId })).status).toBe('none')

    const { jobIds } = await awardBatch(p.requester, { jobMarket, awards: awards.slice(0, 2) })
    const commits = jobIds.map((jobId, i) => ({ jobId, resultRoot: rootOf(i), leafCount: 1 }))
    // another account cannot commit them, and one wrong leaf count sinks the batch
    await expectRevert(commitBatch(p.other, { jobMarket, commits }), 'NotProvider')
    await expectRevert(
      commitBatch(p.provider, { jobMarket, commits: [commits[0]!, { ...commits[1]!, leafCount: 2 }] }),
      'LeafCountMismatch',
    )
    expect((await getJob(p.admin, { jobMarket, jobId: jobIds[0]! })).status).toBe('awarded')
    await commitBatch(p.provider, { jobMarket, commits })
    const job = await getJob(p.admin, { jobMarket, jobId: jobIds[1]! })
    expect(job.status).toBe('committed')
    expect(job.resultRoot).toBe(rootOf(1))
  })
})

describe('storage of a batch', () => {
  it('locks each provider run once, to the wei, and keeps an inference root in its commit event only', async () => {
    const { jobMarket, stakeManager } = p.deployment.addresses
    await stakeAs(p, p.other, e('1000'))
    const lockedOf = async (who: typeof p.provider) =>
      (await getStake(p.admin, { stakeManager, account: who.account.address })).locked
    const before = [await lockedOf(p.provider), await lockedOf(p.other)]
    const offers = await Promise.all([0, 1, 2].map(() => makeOffer(p, { sampleCount: 8, microBatchSize: 8 })))
    const others = { provider: p.other.account.address, collateral: e('150') }
    // provider, other, provider: three runs, each locked with its own StakeManager call
    const awards = [
      { offer: offers[0]!, ...(await makeBid(p, offers[0]!, { price: e('10') })) },
      { offer: offers[1]!, ...(await makeBid(p, offers[1]!, { price: e('11'), ...others }, p.other)) },
      { offer: offers[2]!, ...(await makeBid(p, offers[2]!, { price: e('12') })) },
    ]
    const { jobIds } = await awardBatch(p.requester, { jobMarket, awards })
    expect(await lockedOf(p.provider)).toBe(before[0]! + e('400'))
    expect(await lockedOf(p.other)).toBe(before[1]! + e('150'))

    const committed = await commitBatch(p.provider, {
      jobMarket,
      commits: [jobIds[0]!, jobIds[2]!].map((jobId, i) => ({
        jobId,
        resultRoot: rootOf(10 + i),
        leafCount: 1,
      })),
    })
    const raw = await readContract(p.admin, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'getJob',
      args: [jobIds[2]!],
    })
    // no slot for the root: the view points at the commit's block, and getJob reads the event there
    expect(raw.resultRoot).toBe(zeroHash)
    expect(BigInt(raw.commitBlock)).toBe(committed.receipt.blockNumber)
    const job = await getJob(p.admin, { jobMarket, jobId: jobIds[2]! })
    expect(job.resultRoot).toBe(rootOf(11))
    expect(job.challengeWindow).toBe(p.deployment.params.challengeWindow)
    const uncommitted = await getJob(p.admin, { jobMarket, jobId: jobIds[1]! })
    expect([uncommitted.resultRoot, uncommitted.commitBlock]).toEqual([zeroHash, 0])
  })
})

describe('finalizeBatch', () => {
  it('pays every due job to the wei and skips the one the court holds until its dispute closes', async () => {
    const { jobMarket, token, stakeManager, disputeCourt } = p.deployment.addresses
    if (disputeCourt === undefined || p.deployment.courtParams === undefined) throw new Error('no court')
    const providerAddress = p.provider.account.address
    const awards = await signedAwards(4)
    const requesterBefore = await getTokenBalance(p.admin, { token, account: p.requester.account.address })
    const { jobIds } = await awardBatch(p.requester, { jobMarket, awards })
    const prices = awards.map((a) => a.bid.price)
    const total = prices.reduce((a, b) => a + b, 0n)
    expect(await getTokenBalance(p.admin, { token, account: p.requester.account.address })).toBe(
      requesterBefore - total,
    )
    const lockedBefore = (await getStake(p.admin, { stakeManager, account: providerAddress })).locked
    await commitBatch(p.provider, {
      jobMarket,
      commits: jobIds.map((jobId, i) => ({ jobId, resultRoot: rootOf(i), leafCount: 1 })),
    })

    // a sealed challenge on the third job: the court holds it (holdForDispute, per job)
    await approveToken(p.verifier, { token, spender: disputeCourt, amount: e('1000') })
    const held = jobIds[2]!
    const commitment = challengeCommitment({
      jobId: held,
      challenger: p.verifier.account.address,
      leafIndex: 0n,
      claimedDataHash: keccak256(toHex('other output')),
      salt: keccak256(toHex('salt')),
    })
    const { disputeId } = await commitChallenge(p.verifier, { disputeCourt, jobId: held, commitment })

    // before the window closes nothing is due: all skipped, nothing paid
    const early = await finalizeBatch(p.other, { jobMarket, jobIds })
    expect(early.finalized).toEqual([])
    expect(early.skipped).toEqual(jobIds)

    await advance(p, p.deployment.params.challengeWindow + 1)
    const providerBefore = await getTokenBalance(p.admin, { token, account: providerAddress })
    const recordBefore = await getProviderRecord(p.admin, { jobMarket, provider: providerAddress })
    const { protocolFeeBps } = await getJobTerms(p.admin, { jobMarket, jobId: jobIds[0]! })
    const payout = (price: bigint) => price - (price * BigInt(protocolFeeBps)) / BPS
    const due = await finalizeBatch(p.other, { jobMarket, jobIds })
    expect(due.skipped).toEqual([held])
    expect(due.finalized).toEqual(jobIds.filter((id) => id !== held))
    const paid = [0, 1, 3].reduce((sum, i) => sum + payout(prices[i]!), 0n)
    expect(await getTokenBalance(p.admin, { token, account: providerAddress })).toBe(providerBefore + paid)
    const record = await getProviderRecord(p.admin, { jobMarket, provider: providerAddress })
    expect(record.completed).toBe(recordBefore.completed + 3)
    expect(record.totalEarned).toBe(recordBefore.totalEarned + paid)
    // the held job's collateral stays locked, the others' is unlocked
    const unlocked = [0, 1, 3].reduce((sum, i) => sum + awards[i]!.bid.collateral, 0n)
    expect((await getStake(p.admin, { stakeManager, account: providerAddress })).locked).toBe(
      lockedBefore - unlocked,
    )

    // the unrevealed challenge expires: the court releases the job (releaseDispute) and it settles
    await advance(p, p.deployment.courtParams.revealPeriod + 1)
    await expireChallenge(p.other, { disputeCourt, disputeId })
    const late = await finalizeBatch(p.other, { jobMarket, jobIds })
    expect(late.finalized).toEqual([held])
    expect(late.skipped).toEqual(jobIds.filter((id) => id !== held))
    expect(await getTokenBalance(p.admin, { token, account: providerAddress })).toBe(
      providerBefore + paid + payout(prices[2]!),
    )
    expect((await getStake(p.admin, { stakeManager, account: providerAddress })).locked).toBe(
      lockedBefore - awards.reduce((sum, a) => sum + a.bid.collateral, 0n),
    )
  })
})
