/**
 * The provider settling several jobs in one transaction, against a real anvil with the real
 * contracts: commits that queue behind one in flight share the next transaction; a batch the
 * chain refuses is split so one bad commit does not hold the others back; a provider killed
 * after a batch commit was sent finds each of its jobs committed on restart; the tick finalizes
 * every due job at once with one payment, to the wei; a batch finalize skips a job a third
 * party finalized meanwhile instead of reverting. The requester's awards queue the same way,
 * each price taken from the deposit or the wallet by the market's own rule.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  approveToken,
  award,
  ContractRevertError,
  type Deployment,
  type DevChain,
  deployProtocol,
  depositBalance,
  finalize,
  getJob,
  getMarketAccount,
  getMarketParams,
  getStake,
  getTokenBalance,
  jobMarketAbi,
  stake,
  startDevChain,
  transferToken,
  writeDeploymentFile,
} from '@ocn/contracts-client'
import { type Account, type Hex, keccak256, parseEther, parseEventLogs, toHex } from 'viem'
import { getTransactionReceipt } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChainService, type OcnChainService } from '../../src/chain/index.js'
import { defaultNodeConfig } from '../../src/config/options.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { createRoleMetrics, type RoleMetrics } from '../../src/roles/metrics.js'
import { defaultRoleOptions } from '../../src/roles/options.js'
import { CommitQueue } from '../../src/roles/provider/commit-queue.js'
import { createProviderContext, type ProviderContext } from '../../src/roles/provider/context.js'
import { honestFaultPlan } from '../../src/roles/provider/faults.js'
import { finalizeTogether } from '../../src/roles/provider/finalize-sweep.js'
import { Reconciler } from '../../src/roles/provider/reconcile.js'
import { createAwardQueue } from '../../src/roles/requester/award-queue.js'
import type { RequesterContext } from '../../src/roles/requester/context.js'
import type { RoleComponents } from '../../src/roles/shared.js'
import { createStateStore, JobLocks, type StateStore } from '../../src/state/index.js'
import { signedReplayAward, type Wallet, walletOn } from './market-jobs.js'

const e = parseEther
const PRICE = e('10')
const COLLATERAL = e('100')
const LEAVES = 4

let dir: string
let chain: DevChain
let deployment: Deployment
let admin: Wallet
let requester: Wallet
let provider: Wallet
let service: OcnChainService
let state: StateStore
let salt = 0n

const wallet = (account: Account): Wallet => walletOn(chain, account)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-settlement-batch-'))
  chain = await startDevChain()
  const [a0, a1, a2] = chain.accounts
  admin = wallet(a0!)
  requester = wallet(a1!)
  provider = wallet(a2!)
  deployment = await deployProtocol(admin)
  const deploymentFile = join(dir, 'deployment.json')
  await writeDeploymentFile(deploymentFile, deployment)
  const { token, stakeManager, jobMarket } = deployment.addresses
  for (const w of [requester, provider])
    await transferToken(admin, { token, to: w.account.address, amount: e('10000') })
  await approveToken(provider, { token, spender: stakeManager, amount: e('5000') })
  await stake(provider, { stakeManager, amount: e('5000') })
  await approveToken(requester, { token, spender: jobMarket, amount: e('10000') })
  state = createStateStore({ path: join(dir, 'state') })
  await state.open()
  service = createChainService(
    { rpcUrl: chain.rpcUrl, account: a2!, deploymentFile, confirmations: 0, pollIntervalMs: 50 },
    { state, logger: createSilentLogger() },
  )
  await service.start()
}, 120_000)

afterAll(async () => {
  await service?.stop()
  await state?.close()
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** A replay job's offer and the provider's bid for it (signed by `signer`, the provider by default). */
function signedAward(signer: Wallet = provider) {
  salt += 1n
  const { jobMarket } = deployment.addresses
  return signedReplayAward({
    requester,
    provider,
    jobMarket,
    salt,
    price: PRICE,
    collateral: COLLATERAL,
    leaves: LEAVES,
    signer,
  })
}

/** A replay job of LEAVES leaves awarded to the provider, with the provider's record of it. */
async function awardedJob(): Promise<Hex> {
  const { offer, bid, signature } = await signedAward()
  const { jobId } = await award(requester, {
    jobMarket: deployment.addresses.jobMarket,
    offer,
    bid,
    signature,
  })
  await state.createJob({
    id: jobId,
    role: 'provider',
    state: 'executing',
    kind: 'inference',
    verification: 'replay',
  })
  return jobId
}

const rootOf = (jobId: Hex): Hex => keccak256(toHex(`root of ${jobId}`))

/** The provider's context over the test's chain service and store (the parts settlement uses). */
function providerContext(overrides: Partial<ProviderContext['options']> = {}): ProviderContext {
  const options = { ...defaultNodeConfig().provider, ...defaultRoleOptions, zkDir: dir, ...overrides }
  const components = {
    chain: service,
    state,
    logger: createSilentLogger(),
    keys: { account: provider.account },
  }
  return createProviderContext(options, components as unknown as RoleComponents)
}

/** How many transactions of `action` a node's metrics counted, the jobs they settled and their gas. */
async function settled(metrics: RoleMetrics, action: string) {
  const { values } = await metrics.settlementJobs.get()
  const of = (suffix: string) =>
    values.find((v) => v.metricName?.endsWith(suffix) && v.labels.action === action)?.value ?? 0
  const gas = (await metrics.settlementGas.get()).values.find((v) => v.labels.action === action)?.value ?? 0
  return { transactions: of('_count'), jobs: of('_sum'), gas }
}

function commitQueue(metrics = createRoleMetrics(undefined)): CommitQueue {
  return new CommitQueue({
    components: { chain: service, state },
    log: createSilentLogger(),
    batchMax: 32,
    metrics,
  })
}

const commitOf = (jobId: Hex, leafCount = LEAVES) => ({
  jobId,
  root: rootOf(jobId),
  leafCount,
  patch: { resultRoot: rootOf(jobId) },
  faults: honestFaultPlan,
})

describe('provider settlement in batches', () => {
  const committed: Hex[] = []

  it('commits queued behind one in flight share the next transaction, each recorded with its hash', async () => {
    const [a, b, c] = [await awardedJob(), await awardedJob(), await awardedJob()]
    const metrics = createRoleMetrics(undefined)
    const queue = commitQueue(metrics)
    const [ha, hb, hc] = await Promise.all([a, b, c].map((id) => queue.commit(commitOf(id))))
    // the node's metrics count two transactions for three jobs, and the gas both receipts used
    const counted = await settled(metrics, 'commit')
    expect(counted).toMatchObject({ transactions: 2, jobs: 3 })
    const receipts = await Promise.all(
      [ha, hb].map((hash) => getTransactionReceipt(provider, { hash: hash! })),
    )
    expect(counted.gas).toBe(Number(receipts[0]!.gasUsed + receipts[1]!.gasUsed))
    // the first goes at once, alone; the two that waited for it go together
    expect(hb).toBe(hc)
    expect(ha).not.toBe(hb)
    const receipt = await getTransactionReceipt(provider, { hash: hb! })
    const logs = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'ResultCommitted' })
    expect(logs.map((l) => l.args.jobId).sort()).toEqual([b, c].sort())
    for (const [id, hash] of [
      [a, ha],
      [b, hb],
      [c, hc],
    ] as const) {
      const onChain = await getJob(provider, { jobMarket: deployment.addresses.jobMarket, jobId: id })
      expect(onChain).toMatchObject({ status: 'committed', resultRoot: rootOf(id) })
      expect(await state.requireJob(id)).toMatchObject({
        resultRoot: rootOf(id),
        intent: { action: 'commit', txHash: hash },
      })
      await state.transitionJob(id, 'committed', { txHash: hash! })
    }
    committed.push(a, b, c)
  })

  it('a batch the chain refuses is split: the bad commit gets its own typed error, the others commit', async () => {
    const [a, bad, c] = [await awardedJob(), await awardedJob(), await awardedJob()]
    const queue = commitQueue()
    const outcomes = await Promise.allSettled([
      queue.commit(commitOf(a)),
      queue.commit(commitOf(bad, LEAVES + 3)),
      queue.commit(commitOf(c)),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    const refused = (outcomes[1] as PromiseRejectedResult).reason
    expect(refused).toBeInstanceOf(ContractRevertError)
    expect((refused as ContractRevertError).errorName).toBe('LeafCountMismatch')
    const jobMarket = deployment.addresses.jobMarket
    expect((await getJob(provider, { jobMarket, jobId: bad })).status).toBe('awarded')
    for (const id of [a, c]) {
      expect((await getJob(provider, { jobMarket, jobId: id })).status).toBe('committed')
      const { intent } = await state.requireJob(id)
      await state.transitionJob(id, 'committed', { txHash: intent!.txHash! })
    }
    committed.push(a, c)
  })

  it('a provider killed after a batch commit was sent finds every job of it committed once restarted', async () => {
    const [a, b, c] = [await awardedJob(), await awardedJob(), await awardedJob()]
    // the process dies right after the batch's hash is on the records, before its receipt
    const killed = { ...honestFaultPlan, afterCommitSent: () => Promise.reject(new Error('killed')) }
    const queue = commitQueue()
    const outcomes = await Promise.allSettled([
      queue.commit(commitOf(a)),
      queue.commit({ ...commitOf(b), faults: killed }),
      queue.commit({ ...commitOf(c), faults: killed }),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected'])
    const [hb, hc] = [(await state.requireJob(b)).intent?.txHash, (await state.requireJob(c)).intent?.txHash]
    expect(hb).toBeDefined()
    expect(hc).toBe(hb)
    // restarted: the records still say executing; each one's reconcile reads the chain
    const reconciler = new Reconciler(providerContext(), { execute: () => {}, isRunning: () => false })
    for (const id of [b, c]) {
      expect((await state.requireJob(id)).state).toBe('executing')
      await reconciler.reconcile(id)
      const record = await state.requireJob(id)
      expect(record).toMatchObject({ state: 'committed', resultRoot: rootOf(id) })
      expect(record.intent).toBeUndefined()
    }
    await state.transitionJob(a, 'committed', { txHash: (outcomes[0] as PromiseFulfilledResult<Hex>).value })
    committed.push(a, b, c)
  })

  it('a batch finalize skips a job another party finalized meanwhile instead of reverting', async () => {
    const { jobMarket, stakeManager } = deployment.addresses
    const { challengeWindow } = await getMarketParams(admin, { jobMarket, stakeManager })
    await admin.request({
      method: 'evm_increaseTime' as 'eth_chainId',
      params: [challengeWindow + 1] as never,
    })
    await admin.request({ method: 'evm_mine' as 'eth_chainId' })
    // the tick saw both due; then the requester finalized one before the batch went out
    const [byOther, ours] = committed.splice(0, 2) as [Hex, Hex]
    await finalize(requester, { jobMarket, jobId: byOther })
    const ctx = providerContext()
    await finalizeTogether(ctx, new JobLocks(), [byOther, ours])
    expect((await getJob(provider, { jobMarket, jobId: ours })).status).toBe('finalized')
    const receipt = await getTransactionReceipt(provider, {
      hash: (await state.requireJob(ours)).history.at(-1)!.txHash as Hex,
    })
    const logs = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs })
    expect(logs.filter((l) => l.eventName === 'FinalizeSkipped').map((l) => l.args)).toMatchObject([
      { jobId: byOther },
    ])
    // its record still says committed; its next reconcile reads the chain and catches it up
    expect((await state.requireJob(byOther)).state).toBe('committed')
    await new Reconciler(ctx, { execute: () => {}, isRunning: () => false }).reconcile(byOther)
    expect((await state.requireJob(byOther)).state).toBe('finalized')
  })

  it('the tick finalizes every due job in one transaction with one payment, to the wei, after provider.finalizeDelayMs', async () => {
    const { jobMarket, token, stakeManager } = deployment.addresses
    const { protocolFeeBps } = await getMarketParams(admin, { jobMarket, stakeManager })
    const due = committed.splice(0)
    expect(due).toHaveLength(6)
    const before = await getTokenBalance(admin, { token, account: provider.account.address })
    const stakeBefore = await getStake(admin, { stakeManager, account: provider.account.address })

    // with provider.finalizeDelayMs the due jobs wait for company until the one due longest
    // has waited that long (here an hour: the first tick finalizes nothing)
    const ctx = providerContext({ finalizeDelayMs: 3_600_000 })
    const reconciler = new Reconciler(ctx, { execute: () => {}, isRunning: () => false })
    await reconciler.tick()
    for (const id of due) expect((await state.requireJob(id)).state).toBe('committed')
    await admin.request({ method: 'evm_increaseTime' as 'eth_chainId', params: [3600] as never })
    await admin.request({ method: 'evm_mine' as 'eth_chainId' })
    await reconciler.tick()
    expect(await settled(ctx.metrics, 'finalize')).toMatchObject({ transactions: 1, jobs: 6 })

    const hashes = new Set<string>()
    for (const id of due) {
      expect((await getJob(provider, { jobMarket, jobId: id })).status).toBe('finalized')
      const record = await state.requireJob(id)
      expect(record.state).toBe('finalized')
      hashes.add(record.history.at(-1)!.txHash!)
    }
    expect(hashes.size).toBe(1)
    const receipt = await getTransactionReceipt(provider, { hash: [...hashes][0] as Hex })
    const logs = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'JobFinalized' })
    expect(logs.map((l) => l.args.jobId).sort()).toEqual([...due].sort())
    // the price less the protocol fee, for each job, in one token transfer
    const payout = 6n * (PRICE - (PRICE * BigInt(protocolFeeBps)) / 10_000n)
    expect(await getTokenBalance(admin, { token, account: provider.account.address })).toBe(before + payout)
    expect(receipt.logs.filter((l) => l.address.toLowerCase() === token.toLowerCase())).toHaveLength(1)
    // and each job's collateral unlocked
    const stakeAfter = await getStake(admin, { stakeManager, account: provider.account.address })
    expect(stakeBefore.locked - stakeAfter.locked).toBe(6n * COLLATERAL)
  })
})

describe('requester awards in batches', () => {
  /** The requester's award queue over a chain service of its own account. */
  async function awardQueue() {
    const requesterService = createChainService(
      {
        rpcUrl: chain.rpcUrl,
        account: requester.account,
        deployment,
        confirmations: 0,
        pollIntervalMs: 50,
      },
      { state, logger: createSilentLogger() },
    )
    await requesterService.start()
    const queue = createAwardQueue({
      chain: requesterService,
      keys: { account: requester.account } as RequesterContext['keys'],
      log: createSilentLogger(),
      metrics: createRoleMetrics(undefined),
      options: { awardBatchMax: 32 },
    })
    return { queue, stop: () => requesterService.stop() }
  }

  const request = (a: Awaited<ReturnType<typeof signedAward>>) => ({
    jobId: a.jobId,
    offer: { terms: a.offer },
    bid: { terms: a.bid, signature: a.signature },
  })

  it('awards queued behind one in flight share the next transaction; each price taken once, by the market rule', async () => {
    const { jobMarket, token } = deployment.addresses
    const me = requester.account.address
    // enough deposit for two of the three prices: the third comes from the wallet
    await depositBalance(requester, { jobMarket, amount: 2n * PRICE })
    const wallet = await getTokenBalance(admin, { token, account: me })
    const market = (await getMarketAccount(admin, { jobMarket, account: me })).balance
    const [a, b, c] = [await signedAward(), await signedAward(), await signedAward()]
    const { queue, stop } = await awardQueue()
    const [sa, sb, sc] = await Promise.all([a, b, c].map((x) => queue.submit(request(x))))
    await stop()
    expect(sb!.hash).toBe(sc!.hash)
    expect(sa!.hash).not.toBe(sb!.hash)
    expect([sa!.sources.get(a.jobId), sb!.sources.get(b.jobId), sc!.sources.get(c.jobId)]).toEqual([
      'market',
      'market',
      'wallet',
    ])
    const receipt = await getTransactionReceipt(admin, { hash: sb!.hash })
    const awarded = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs, eventName: 'JobAwarded' })
    expect(awarded.map((l) => l.args.jobId).sort()).toEqual([b.jobId, c.jobId].sort())
    for (const x of [a, b, c])
      expect((await getJob(admin, { jobMarket, jobId: x.jobId })).status).toBe('awarded')
    // to the wei: two prices from the deposit, one from the wallet
    expect((await getMarketAccount(admin, { jobMarket, account: me })).balance).toBe(market - 2n * PRICE)
    expect(await getTokenBalance(admin, { token, account: me })).toBe(wallet - PRICE)
  })

  it('a batch with a bid the market refuses is split: that award fails with its own error, the others are awarded', async () => {
    const { jobMarket } = deployment.addresses
    // the middle bid is signed by the requester, not by the provider it names
    const [a, forged, c] = [await signedAward(), await signedAward(requester), await signedAward()]
    const { queue, stop } = await awardQueue()
    const outcomes = await Promise.allSettled([a, forged, c].map((x) => queue.submit(request(x))))
    await stop()
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    const refused = (outcomes[1] as PromiseRejectedResult).reason as ContractRevertError
    expect(refused).toBeInstanceOf(ContractRevertError)
    expect(refused.errorName).toBe('InvalidBidSignature')
    expect((await getJob(admin, { jobMarket, jobId: forged.jobId })).status).toBe('none')
    for (const x of [a, c])
      expect((await getJob(admin, { jobMarket, jobId: x.jobId })).status).toBe('awarded')
  })
})
