import { MerkleTree } from '@ocn/protocol'
import { keccak256, parseEther, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  award,
  awardWithPermit,
  challenge,
  commitResult,
  expire,
  finalize,
  getJob,
  getMarketParams,
  getProviderRecord,
  getStake,
  getTokenBalance,
  resolve,
  sweepTreasury,
} from '../src/index.js'
import {
  advance,
  approveMarket,
  makeBid,
  makeOffer,
  type Protocol,
  setupProtocol,
  stakeAs,
} from './helpers.js'

const e = parseEther
let p: Protocol
const tree = MerkleTree.fromDataHashes(Array.from({ length: 8 }, (_, i) => keccak256(toHex(`output ${i}`))))

beforeAll(async () => {
  p = await setupProtocol({
    protocolFeeBps: 250,
    cheatSlashBps: 10_000,
    noShowSlashBps: 2_000,
    challengerRewardBps: 5_000,
    challengeWindow: 600,
    minChallengeBond: e('10'),
    verifierMinStake: e('100'),
  })
  await stakeAs(p, p.provider, e('1000'))
  await stakeAs(p, p.verifier, e('100'))
})
afterAll(async () => {
  await p?.chain.stop()
})

async function balances() {
  const { token, jobMarket, stakeManager } = p.deployment.addresses
  const of = (account: `0x${string}`) => getTokenBalance(p.admin, { token, account })
  return {
    requester: await of(p.requester.account.address),
    provider: await of(p.provider.account.address),
    verifier: await of(p.verifier.account.address),
    treasury: await of(p.treasury.account.address),
    market: await of(jobMarket),
    stakes: await of(stakeManager),
  }
}

async function awarded(price = e('40'), collateral = e('200')) {
  const offer = await makeOffer(p)
  const { bid, signature } = await makeBid(p, offer, { price, collateral })
  await approveMarket(p, p.requester, price)
  const { jobId } = await award(p.requester, {
    jobMarket: p.deployment.addresses.jobMarket,
    offer,
    bid,
    signature,
  })
  return { offer, bid, jobId }
}

async function committed() {
  const job = await awarded()
  await commitResult(p.provider, {
    jobMarket: p.deployment.addresses.jobMarket,
    jobId: job.jobId,
    resultRoot: tree.root,
    leafCount: tree.leafCount,
  })
  return job
}

describe('job lifecycle', () => {
  it('award, commit, finalize pays the provider minus the fee, to the wei', async () => {
    const { jobMarket, stakeManager } = p.deployment.addresses
    const before = await balances()
    const recordBefore = await getProviderRecord(p.admin, { jobMarket, provider: p.provider.account.address })
    const { jobId } = await awarded()

    const afterAward = await balances()
    expect(afterAward.requester).toBe(before.requester - e('40'))
    expect(afterAward.market).toBe(before.market + e('40'))
    const stakeAfterAward = await getStake(p.admin, { stakeManager, account: p.provider.account.address })
    expect(stakeAfterAward.locked).toBe(e('200'))
    expect(stakeAfterAward.free).toBe(e('800'))
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('awarded')

    await commitResult(p.provider, { jobMarket, jobId, resultRoot: tree.root, leafCount: tree.leafCount })
    const job = await getJob(p.admin, { jobMarket, jobId })
    expect(job.status).toBe('committed')
    expect(job.resultRoot).toBe(tree.root)
    expect(job.leafCount).toBe(8)

    await advance(p, 601)
    await finalize(p.other, { jobMarket, jobId })
    const after = await balances()
    expect(after.provider).toBe(before.provider + e('39'))
    expect(after.market).toBe(before.market + e('1'))
    expect(after.requester).toBe(before.requester - e('40'))
    expect((await getStake(p.admin, { stakeManager, account: p.provider.account.address })).locked).toBe(0n)
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('finalized')
    const record = await getProviderRecord(p.admin, { jobMarket, provider: p.provider.account.address })
    expect(record.completed).toBe(recordBefore.completed + 1)
    expect(record.totalEarned).toBe(recordBefore.totalEarned + e('39'))

    const accrued = (await getMarketParams(p.admin, { jobMarket, stakeManager })).treasuryAccrued
    await sweepTreasury(p.other, { jobMarket })
    const swept = await balances()
    expect(swept.treasury).toBe(before.treasury + accrued)
    expect(swept.market).toBe(after.market - accrued)
  })

  it('award with a permit needs no prior approval', async () => {
    const { jobMarket, token } = p.deployment.addresses
    const before = await balances()
    const offer = await makeOffer(p)
    const { bid, signature } = await makeBid(p, offer, { price: e('7') })
    const { jobId } = await awardWithPermit(p.requester, { jobMarket, token, offer, bid, signature })
    expect((await balances()).requester).toBe(before.requester - e('7'))
    expect((await getJob(p.admin, { jobMarket, jobId })).price).toBe(e('7'))
  })

  it('a cheating provider is slashed: requester refunded, challenger rewarded, rest to the treasury', async () => {
    const { jobMarket, stakeManager } = p.deployment.addresses
    const before = await balances()
    const accruedBefore = (await getMarketParams(p.admin, { jobMarket, stakeManager })).treasuryAccrued
    const stakeBefore = await getStake(p.admin, { stakeManager, account: p.provider.account.address })
    const { jobId } = await committed()
    await approveMarket(p, p.verifier, e('10'))
    await challenge(p.verifier, {
      jobMarket,
      jobId,
      leafIndex: 3n,
      claimedDataHash: keccak256(toHex('other')),
    })
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('challenged')
    await resolve(p.admin, { jobMarket, jobId, providerCheated: true })

    const after = await balances()
    // full collateral (200) slashed: half to the challenger, half to the treasury
    expect(after.requester).toBe(before.requester)
    expect(after.verifier).toBe(before.verifier + e('100'))
    expect(after.market).toBe(before.market + e('100'))
    expect(after.stakes).toBe(before.stakes - e('200'))
    expect((await getMarketParams(p.admin, { jobMarket, stakeManager })).treasuryAccrued).toBe(
      accruedBefore + e('100'),
    )
    const stakeAfter = await getStake(p.admin, { stakeManager, account: p.provider.account.address })
    expect(stakeAfter.staked).toBe(stakeBefore.staked - e('200'))
    expect(stakeAfter.locked).toBe(stakeBefore.locked)
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('providerSlashed')
    expect(
      (await getProviderRecord(p.admin, { jobMarket, provider: p.provider.account.address })).slashed,
    ).toBe(1)
  })

  it('a false challenger loses its bond to the provider, and the job still finalizes', async () => {
    const { jobMarket } = p.deployment.addresses
    const before = await balances()
    const { jobId } = await committed()
    await approveMarket(p, p.verifier, e('10'))
    await challenge(p.verifier, {
      jobMarket,
      jobId,
      leafIndex: 0n,
      claimedDataHash: keccak256(toHex('wrong')),
    })
    await resolve(p.admin, { jobMarket, jobId, providerCheated: false })
    const afterResolve = await balances()
    expect(afterResolve.verifier).toBe(before.verifier - e('10'))
    expect(afterResolve.provider).toBe(before.provider + e('10'))
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('committed')

    await advance(p, 601)
    await finalize(p.other, { jobMarket, jobId })
    const after = await balances()
    expect(after.provider).toBe(before.provider + e('10') + e('39'))
    expect(after.requester).toBe(before.requester - e('40'))
    expect(after.market).toBe(before.market + e('1'))
  })

  it('award then expire refunds the requester and slashes the no-show', async () => {
    const { jobMarket, stakeManager } = p.deployment.addresses
    const before = await balances()
    const stakeBefore = await getStake(p.admin, { stakeManager, account: p.provider.account.address })
    const noShowsBefore = (
      await getProviderRecord(p.admin, { jobMarket, provider: p.provider.account.address })
    ).noShows
    const { jobId } = await awarded()
    await advance(p, 3601)
    await expire(p.other, { jobMarket, jobId })
    const after = await balances()
    expect(after.requester).toBe(before.requester)
    // 20% of the 200 collateral goes to the treasury's account in the market
    expect(after.market).toBe(before.market + e('40'))
    expect(after.stakes).toBe(before.stakes - e('40'))
    const stakeAfter = await getStake(p.admin, { stakeManager, account: p.provider.account.address })
    expect(stakeAfter.staked).toBe(stakeBefore.staked - e('40'))
    expect(stakeAfter.locked).toBe(stakeBefore.locked)
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('expired')
    const record = await getProviderRecord(p.admin, { jobMarket, provider: p.provider.account.address })
    expect(record.noShows).toBe(noShowsBefore + 1)
  })
})
