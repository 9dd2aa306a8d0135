import { MerkleTree } from '@ocn/protocol'
import { keccak256, parseEther, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  award,
  awardWithPermit,
  commitResult,
  expire,
  finalize,
  getJob,
  getMarketParams,
  getProviderRecord,
  getStake,
  getTokenBalance,
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
