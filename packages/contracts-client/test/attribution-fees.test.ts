// Fee routing from the JobMarket to the AttributionPool, on anvil with the deployment
// deployProtocol makes (pool deployed and wired, deployer holding the attribution role).
import { attributionWeightsTree, MerkleTree, scoresToBasisPoints } from '@ocn/protocol'
import {
  type Address,
  encodeFunctionData,
  getAddress,
  type Hex,
  isAddressEqual,
  keccak256,
  parseEther,
  parseEventLogs,
  toHex,
} from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  attributionPoolAbi,
  award,
  claimAttribution,
  commitResult,
  expire,
  finalize,
  getAttributionPool,
  getAttributionRound,
  getJob,
  getMarketParams,
  getTokenBalance,
  jobMarketAbi,
  ProtocolRole,
  setAttributionShare,
  setAttributionWeights,
  setProtocolFee,
  settleAttributionRound,
  sweepTreasury,
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
  type Wallet,
  walletFor,
} from './helpers.js'

const e = parseEther
const SHARE = 1_000
const FEE = 250
const weightedModel = keccak256(toHex('model with a datanet'))
const plainModel = keccak256(toHex('model without weights'))
const tree = MerkleTree.fromDataHashes(Array.from({ length: 4 }, (_, i) => keccak256(toHex(`out ${i}`))))

let p: Protocol
let contributors: Wallet[]
let weights: { address: Address; weight: number }[]
let pool: Address

beforeAll(async () => {
  p = await setupProtocol({ protocolFeeBps: FEE, attributionShareBps: SHARE })
  pool = p.deployment.addresses.attributionPool!
  contributors = p.chain.accounts.slice(6, 9).map((a) => walletFor(p.chain, a))
  await stakeAs(p, p.provider, e('5000'))
  await stakeAs(p, p.verifier, e('100'))
  weights = scoresToBasisPoints([2.5, 0.9, 0.35]).map((weight, i) => ({
    address: contributors[i]!.account.address,
    weight,
  }))
  // the deployer holds the attribution role after deployProtocol
  await setAttributionWeights(p.admin, {
    attributionPool: pool,
    modelId: weightedModel,
    weightsRoot: attributionWeightsTree(weights).root,
    resultHash: keccak256(toHex('attribution result v1')),
  })
}, 120_000)
afterAll(async () => {
  await p?.chain.stop()
})

/** Every holder a job's tokens can reach; their sum never changes. */
async function balances() {
  const { token, jobMarket, stakeManager } = p.deployment.addresses
  const of = (account: Address) => getTokenBalance(p.admin, { token, account })
  const b = {
    requester: await of(p.requester.account.address),
    provider: await of(p.provider.account.address),
    verifier: await of(p.verifier.account.address),
    treasury: await of(p.treasury.account.address),
    market: await of(jobMarket),
    stakes: await of(stakeManager),
    pool: await of(pool),
    contributors: (await Promise.all(contributors.map((c) => of(c.account.address)))).reduce((x, y) => x + y),
  }
  return { ...b, total: Object.values(b).reduce((x, y) => x + y) }
}

async function awarded(modelHash: Hex, price: bigint) {
  // four leaves, as `tree` has: the terms fix the leaf count at award
  const offer = await makeOffer(p, { modelHash, maxPrice: price, sampleCount: 4, microBatchSize: 1 })
  const { bid, signature } = await makeBid(p, offer, { price, collateral: e('200') })
  await approveMarket(p, p.requester, price)
  const { jobId } = await award(p.requester, {
    jobMarket: p.deployment.addresses.jobMarket,
    offer,
    bid,
    signature,
  })
  return jobId
}

async function committed(modelHash: Hex, price: bigint) {
  const jobId = await awarded(modelHash, price)
  await commitResult(p.provider, {
    jobMarket: p.deployment.addresses.jobMarket,
    jobId,
    resultRoot: tree.root,
    leafCount: tree.leafCount,
  })
  return jobId
}

async function claimAll(round: bigint): Promise<bigint> {
  const wtree = attributionWeightsTree(weights)
  let paid = 0n
  // the smallest contributor claims first, so the last claim takes the rounding remainder
  for (const i of [2, 0, 1]) {
    const r = await claimAttribution(contributors[i]!, {
      attributionPool: pool,
      modelId: weightedModel,
      round,
      index: i,
      account: weights[i]!.address,
      weight: weights[i]!.weight,
      proof: wtree.proof(i),
    })
    paid += r.paid
  }
  return paid
}

describe('attribution fee routing', () => {
  it('deploys the pool, wires the market to it and puts the share under the PARAMETERS role', async () => {
    const { jobMarket, stakeManager } = p.deployment.addresses
    const params = await getMarketParams(p.admin, { jobMarket, stakeManager })
    expect(isAddressEqual(params.attributionPool, pool)).toBe(true)
    expect(params.attributionShareBps).toBe(SHARE)
    expect(p.deployment.params.attributionShareBps).toBe(SHARE)
    expect(p.deployment.roles.attribution).toBe(ProtocolRole.attribution)
  })

  it('pays price * share / 10000 of a job on a model with weights into a round its contributors claim in full', async () => {
    const { jobMarket } = p.deployment.addresses
    // a price that does not divide evenly by the basis points, so rounding is exercised
    const price = e('40') + 12_345n
    const before = await balances()
    const jobId = await committed(weightedModel, price)
    const job = await getJob(p.admin, { jobMarket, jobId })
    expect(job.attributionBps).toBe(SHARE)

    await advance(p, 601)
    const { receipt } = await finalize(p.other, { jobMarket, jobId })
    const share = (price * BigInt(SHARE)) / 10_000n
    const fee = (price * BigInt(FEE)) / 10_000n
    const after = await balances()
    expect(after.total).toBe(before.total)
    expect(after.provider).toBe(before.provider + price - fee - share)
    expect(after.pool).toBe(before.pool + share)
    expect(after.market).toBe(before.market + fee)
    expect(after.requester).toBe(before.requester - price)
    const logs = parseEventLogs({ abi: [...jobMarketAbi, ...attributionPoolAbi], logs: receipt.logs })
    expect(logs.find((l) => l.eventName === 'AttributionPaid')?.args).toEqual({
      jobId,
      modelHash: weightedModel,
      amount: share,
    })
    expect(logs.find((l) => l.eventName === 'JobFinalized')?.args).toMatchObject({
      payout: price - fee - share,
      fee,
    })
    expect(logs.find((l) => l.eventName === 'Deposited')?.args).toEqual({
      modelId: weightedModel,
      from: getAddress(jobMarket),
      amount: share,
    })
    expect(
      (await getAttributionPool(p.admin, { attributionPool: pool, modelId: weightedModel })).pending,
    ).toBe(share)

    const { round } = await settleAttributionRound(p.other, { attributionPool: pool, modelId: weightedModel })
    expect(
      (await getAttributionRound(p.admin, { attributionPool: pool, modelId: weightedModel, round })).amount,
    ).toBe(share)
    const paid = await claimAll(round)
    expect(paid).toBe(share)
    const claimed = await balances()
    expect(claimed.contributors).toBe(before.contributors + share)
    expect(claimed.pool).toBe(before.pool)
    expect(claimed.total).toBe(before.total)

    // the fee still reaches the treasury in full
    await sweepTreasury(p.other, { jobMarket })
    expect((await balances()).market).toBe(0n)
  })

  it('sends nothing to the pool for a model without weights', async () => {
    const { jobMarket } = p.deployment.addresses
    const price = e('40')
    const before = await balances()
    const jobId = await committed(plainModel, price)
    expect((await getJob(p.admin, { jobMarket, jobId })).attributionBps).toBe(0)
    await advance(p, 601)
    const { receipt } = await finalize(p.other, { jobMarket, jobId })
    const after = await balances()
    expect(after.pool).toBe(before.pool)
    expect(after.provider).toBe(before.provider + e('39'))
    expect(after.total).toBe(before.total)
    const logs = parseEventLogs({ abi: [...jobMarketAbi, ...attributionPoolAbi], logs: receipt.logs })
    expect(logs.map((l) => l.eventName)).not.toContain('AttributionPaid')
    expect(logs.map((l) => l.eventName)).not.toContain('Deposited')
    expect((await getAttributionPool(p.admin, { attributionPool: pool, modelId: plainModel })).pending).toBe(
      0n,
    )
  })

  it('refunds the requester in full, pool untouched, when the job expires', async () => {
    const { jobMarket } = p.deployment.addresses
    const price = e('10')
    const before = await balances()
    // a no-show
    const noShow = await awarded(weightedModel, price)
    await advance(p, 3601)
    await expire(p.other, { jobMarket, jobId: noShow })
    const after = await balances()
    expect(after.requester).toBe(before.requester)
    expect(after.pool).toBe(before.pool)
    expect(after.total).toBe(before.total)
    for (const jobId of [noShow]) {
      const stored = await p.admin.request({
        method: 'eth_call',
        params: [
          {
            to: jobMarket,
            data: encodeFunctionData({
              abi: jobMarketAbi,
              functionName: 'attributedModel',
              args: [jobId],
            }),
          },
          'latest',
        ],
      })
      expect(BigInt(stored as Hex)).toBe(0n)
    }
  })

  it('governs the share: unauthorized and out-of-range values revert, running jobs keep theirs and their fee', async () => {
    const { jobMarket, stakeManager } = p.deployment.addresses
    await expectRevert(
      setAttributionShare(p.other, { jobMarket, attributionShareBps: 500 }),
      'AccessManagedUnauthorized',
    )
    await expectRevert(
      setAttributionShare(p.admin, { jobMarket, attributionShareBps: 5_001 }),
      'InvalidParameter',
    )
    // the protocol fee and the share together may not exceed the whole price
    await expectRevert(
      setProtocolFee(p.admin, { jobMarket, protocolFeeBps: 10_000 - SHARE + 1 }),
      'InvalidParameter',
    )

    const price = e('20')
    const early = await committed(weightedModel, price)
    await setAttributionShare(p.admin, { jobMarket, attributionShareBps: 5_000 })
    expect((await getMarketParams(p.admin, { jobMarket, stakeManager })).attributionShareBps).toBe(5_000)
    const late = await committed(weightedModel, price)
    expect((await getJob(p.admin, { jobMarket, jobId: early })).attributionBps).toBe(SHARE)
    expect((await getJob(p.admin, { jobMarket, jobId: late })).attributionBps).toBe(5_000)

    // governance then drops the share and raises the fee to the whole price: both running jobs
    // still settle on the fee and the share of their award (terms are fixed at award)
    await setAttributionShare(p.admin, { jobMarket, attributionShareBps: 0 })
    await setProtocolFee(p.admin, { jobMarket, protocolFeeBps: 10_000 })
    const before = await balances()
    const accrued = async () => (await getMarketParams(p.admin, { jobMarket, stakeManager })).treasuryAccrued
    const accruedBefore = await accrued()
    await advance(p, 601)
    await finalize(p.other, { jobMarket, jobId: early })
    await finalize(p.other, { jobMarket, jobId: late })
    const after = await balances()
    const fee = (price * BigInt(FEE)) / 10_000n
    const shares = (price * BigInt(SHARE)) / 10_000n + (price * 5_000n) / 10_000n
    expect(after.total).toBe(before.total)
    expect(after.pool - before.pool).toBe(shares)
    expect(after.provider - before.provider).toBe(2n * (price - fee) - shares)
    expect(await accrued()).toBe(accruedBefore + 2n * fee)
    await setProtocolFee(p.admin, { jobMarket, protocolFeeBps: FEE })
    await setAttributionShare(p.admin, { jobMarket, attributionShareBps: SHARE })
  })
})
