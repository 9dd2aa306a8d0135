/**
 * Prepaid balances in the JobMarket, on anvil with the real contracts: a requester's deposit pays
 * for awards it covers (else the award pulls the price by transferFrom as before), a provider that
 * opted in is paid to its balance, and a refund (expiry, conviction) goes back the way the price
 * came. After every test the market holds exactly the open escrows, the treasury's accrual and
 * every account's balance, to the wei.
 */
import { MerkleTree } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  award,
  awardBatch,
  commitBatch,
  commitResult,
  depositBalance,
  executeDispute,
  expire,
  finalize,
  finalizeBatch,
  getJob,
  getMarketAccount,
  getProviderRecord,
  getTokenBalance,
  jobMarketAbi,
  setPayoutToBalance,
  withdrawBalance,
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
  makeVerifier,
  reveal,
  setupCourt,
} from './court-helpers.js'
import { approveMarket, expectRevert, makeBid, makeOffer, stakeAs, type Wallet } from './helpers.js'

let p: CourtProtocol
const PRICE = e('40')
const tree = MerkleTree.fromDataHashes([...forgedData])

beforeAll(async () => {
  p = await setupCourt()
  await stakeAs(p, p.provider, e('2000'))
  await makeVerifier(p, p.verifier)
}, 120_000)

afterAll(async () => {
  await p?.chain.stop()
})

const market = () => p.deployment.addresses.jobMarket
const tokens = (account: Address) =>
  getTokenBalance(p.admin, { token: p.deployment.addresses.token, account })
const balanceOf = async (w: Wallet) =>
  (await getMarketAccount(p.admin, { jobMarket: market(), account: w.account.address })).balance
const fee = (price: bigint) => (price * BigInt(p.deployment.params.protocolFeeBps)) / 10_000n

/** Jobs awarded here and not yet settled: their prices are the market's open escrow. */
const open = new Map<Hex, bigint>()

async function deposit(w: Wallet, amount: bigint): Promise<void> {
  await approveMarket(p, w, amount)
  await depositBalance(w, { jobMarket: market(), amount })
}

/** Awards one job at `price`; approves the market for it in case the deposit does not cover it. */
async function awardJob(price = PRICE): Promise<Hex> {
  const offer = await makeOffer(p)
  const { bid, signature } = await makeBid(p, offer, { price })
  await approveMarket(p, p.requester, price)
  const { jobId } = await award(p.requester, { jobMarket: market(), offer, bid, signature })
  open.set(jobId, price)
  return jobId
}

async function commitAndFinalize(jobId: Hex): Promise<void> {
  await commitResult(p.provider, {
    jobMarket: market(),
    jobId,
    resultRoot: tree.root,
    leafCount: tree.leafCount,
  })
  await advance(p, p.deployment.params.challengeWindow + 1)
  await finalize(p.other, { jobMarket: market(), jobId })
  open.delete(jobId)
}

afterEach(async () => {
  // no path strands or creates money: escrows + treasury accrual + every balance = what the market holds
  const parties = [p.requester, p.provider, p.verifier, p.other]
  const balances = await Promise.all(parties.map(balanceOf))
  const accrued = await readContract(p.admin, {
    address: market(),
    abi: jobMarketAbi,
    functionName: 'treasuryAccrued',
  })
  const escrow = [...open.values()].reduce((x, y) => x + y, 0n)
  expect(await tokens(market())).toBe(escrow + accrued + balances.reduce((x, y) => x + y, 0n))
})

describe('prepaid balances', () => {
  it('deposit and withdraw move exactly the amount; a withdrawal above the balance reverts typed', async () => {
    const before = await tokens(p.other.account.address)
    await deposit(p.other, e('25'))
    expect(await balanceOf(p.other)).toBe(e('25'))
    expect(await tokens(p.other.account.address)).toBe(before - e('25'))
    const err = await expectRevert(
      withdrawBalance(p.other, { jobMarket: market(), amount: e('25') + 1n }),
      'InsufficientMarketBalance',
    )
    expect(err.args).toEqual([p.other.account.address, e('25'), e('25') + 1n])
    await withdrawBalance(p.other, { jobMarket: market(), amount: e('10') })
    await withdrawBalance(p.other, { jobMarket: market(), amount: e('15') })
    expect(await balanceOf(p.other)).toBe(0n)
    expect(await tokens(p.other.account.address)).toBe(before)
    await expectRevert(
      withdrawBalance(p.other, { jobMarket: market(), amount: 1n }),
      'InsufficientMarketBalance',
    )
    // a deposit without an allowance is the token's refusal, and books nothing
    await expectRevert(
      depositBalance(p.other, { jobMarket: market(), amount: e('1') }),
      'ERC20InsufficientAllowance',
    )
    expect(await balanceOf(p.other)).toBe(0n)
  })

  it('an award draws the price from a deposit that covers it, else pulls it by transferFrom', async () => {
    await deposit(p.requester, e('50'))
    const tokensBefore = await tokens(p.requester.account.address)
    await awardJob(e('30'))
    expect(await balanceOf(p.requester)).toBe(e('20'))
    expect(await tokens(p.requester.account.address)).toBe(tokensBefore)
    // 40 > 20 left: the deposit stays untouched and the price comes by transferFrom
    await awardJob(e('40'))
    expect(await balanceOf(p.requester)).toBe(e('20'))
    expect(await tokens(p.requester.account.address)).toBe(tokensBefore - e('40'))
    await awardJob(e('20'))
    expect(await balanceOf(p.requester)).toBe(0n)
    for (const jobId of [...open.keys()]) await commitAndFinalize(jobId)
  })

  it('payouts go to the balance only for jobs awarded after the provider opted in', async () => {
    const provider = p.provider.account.address
    const before = await tokens(provider)
    const recordBefore = await getProviderRecord(p.admin, { jobMarket: market(), provider })
    const awardedBefore = await awardJob()
    await setPayoutToBalance(p.provider, { jobMarket: market(), enabled: true })
    expect(
      (await getMarketAccount(p.admin, { jobMarket: market(), account: provider })).payoutToBalance,
    ).toBe(true)
    const awardedAfter = await awardJob()
    await commitAndFinalize(awardedBefore)
    expect(await tokens(provider)).toBe(before + PRICE - fee(PRICE))
    expect(await balanceOf(p.provider)).toBe(0n)
    await commitAndFinalize(awardedAfter)
    expect(await tokens(provider)).toBe(before + PRICE - fee(PRICE))
    expect(await balanceOf(p.provider)).toBe(PRICE - fee(PRICE))
    const record = await getProviderRecord(p.admin, { jobMarket: market(), provider })
    expect(record.totalEarned).toBe(recordBefore.totalEarned + 2n * (PRICE - fee(PRICE)))

    await withdrawBalance(p.provider, { jobMarket: market(), amount: PRICE - fee(PRICE) })
    expect(await tokens(provider)).toBe(before + 2n * (PRICE - fee(PRICE)))
    await setPayoutToBalance(p.provider, { jobMarket: market(), enabled: false })
  })

  it('expiry refunds a deposit-funded job to the deposit and a pulled one by transfer', async () => {
    await deposit(p.requester, PRICE)
    const tokensBefore = await tokens(p.requester.account.address)
    const fromDeposit = await awardJob()
    const pulled = await awardJob()
    expect(await balanceOf(p.requester)).toBe(0n)
    expect(await tokens(p.requester.account.address)).toBe(tokensBefore - PRICE)
    await advance(p, 3601)
    await expire(p.other, { jobMarket: market(), jobId: fromDeposit })
    open.delete(fromDeposit)
    expect(await balanceOf(p.requester)).toBe(PRICE)
    expect(await tokens(p.requester.account.address)).toBe(tokensBefore - PRICE)
    await expire(p.other, { jobMarket: market(), jobId: pulled })
    open.delete(pulled)
    expect(await balanceOf(p.requester)).toBe(PRICE)
    expect(await tokens(p.requester.account.address)).toBe(tokensBefore)
    await withdrawBalance(p.requester, { jobMarket: market(), amount: PRICE })
  })

  it('batches: the deposit covers the first jobs, transferFrom the rest; mixed payouts settle to the wei', async () => {
    await deposit(p.requester, e('25'))
    const tokensBefore = await tokens(p.requester.account.address)
    const providerTokens = await tokens(p.provider.account.address)
    const prices = [e('10'), e('15'), e('12'), e('11')]
    const signed = async (price: bigint) => {
      const offer = await makeOffer(p)
      return { offer, ...(await makeBid(p, offer, { price })) }
    }
    // jobs 0 and 1 pay out by transfer (awarded before the opt-in), 2 and 3 to the balance
    await approveMarket(p, p.requester, e('100'))
    const first = await awardBatch(p.requester, {
      jobMarket: market(),
      awards: [await signed(prices[0]!), await signed(prices[1]!)],
    })
    await setPayoutToBalance(p.provider, { jobMarket: market(), enabled: true })
    const second = await awardBatch(p.requester, {
      jobMarket: market(),
      awards: [await signed(prices[2]!), await signed(prices[3]!)],
    })
    const jobIds = [...first.jobIds, ...second.jobIds]
    for (const [i, id] of jobIds.entries()) open.set(id, prices[i]!)
    // 10 and 15 exhaust the 25 deposited; 12 and 11 come by transferFrom
    expect(await balanceOf(p.requester)).toBe(0n)
    expect(await tokens(p.requester.account.address)).toBe(tokensBefore - e('23'))

    const commits = jobIds.map((jobId) => ({ jobId, resultRoot: tree.root, leafCount: tree.leafCount }))
    await commitBatch(p.provider, { jobMarket: market(), commits })
    await advance(p, p.deployment.params.challengeWindow + 1)
    const { finalized } = await finalizeBatch(p.other, { jobMarket: market(), jobIds })
    expect(finalized).toEqual(jobIds)
    for (const id of jobIds) open.delete(id)
    const net = prices.map((x) => x - fee(x))
    expect(await tokens(p.provider.account.address)).toBe(providerTokens + net[0]! + net[1]!)
    expect(await balanceOf(p.provider)).toBe(net[2]! + net[3]!)
    await withdrawBalance(p.provider, { jobMarket: market(), amount: net[2]! + net[3]! })
    await setPayoutToBalance(p.provider, { jobMarket: market(), enabled: false })
  })

  it('a conviction refunds a deposit-funded job to the deposit', { timeout: 120_000 }, async () => {
    await deposit(p.requester, PRICE)
    const tokensBefore = await tokens(p.requester.account.address)
    const jobId = await awardJob()
    await commitResult(p.provider, {
      jobMarket: market(),
      jobId,
      resultRoot: tree.root,
      leafCount: tree.leafCount,
    })
    const found = await commitLeafChallenge(p, p.verifier, jobId, FORGED_LEAF)
    await reveal(p, p.verifier, found)
    await drawVoteRule(p, found.disputeId, () => honestChoice(BigInt(FORGED_LEAF)))
    await advance(p, p.courtParams.appealPeriod + 1)
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: found.disputeId })
    open.delete(jobId)
    expect((await getJob(p.admin, { jobMarket: market(), jobId })).status).toBe('providerSlashed')
    expect(await balanceOf(p.requester)).toBe(PRICE)
    expect(await tokens(p.requester.account.address)).toBe(tokensBefore)
  })
})
