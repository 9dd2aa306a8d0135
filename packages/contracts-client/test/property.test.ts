// Random sequences of every protocol action across several actors; after each step the
// token accounting invariants must hold. Runs against one anvil, rewinding it with
// evm_snapshot/evm_revert between sequences. OCN_PROPERTY_RUNS raises the run count.
// Half the jobs run on a model with attribution weights, so the AttributionPool's share of
// their payouts is part of the accounting. Datanet actors create datanets (burning OPEN into the
// sink), contribute with stakes, curate and withdraw: the burns and the stakes are accounted too.
// Actors also deposit into and withdraw from their JobMarket balances and switch their payouts to
// the balance and back, so awards are paid from deposits or by transferFrom, payouts and refunds
// land in balances or are transferred, and the market's books include every balance.
// Some awards are compact batches of one to three jobs (JobMarket.awardCompact): those jobs are
// committed and finalized through their batch, and materialized into ordinary storage (by a
// step of their own, or before an expiry), so both kinds of job and the move between them are
// under the same accounting.
import { jobIdOf } from '@ocn/protocol'
import fc from 'fast-check'
import {
  type Address,
  createPublicClient,
  type Hex,
  http,
  keccak256,
  parseEther,
  parseEventLogs,
  toHex,
} from 'viem'
import { readContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  acceptContribution,
  approveToken,
  award,
  awardCompact,
  type CompactBatch,
  ContractRevertError,
  commitCompact,
  commitResult,
  compactSalt,
  contribute,
  createDatanet,
  datanetRegistryAbi,
  defaultDatanetParameters,
  depositBalance,
  expire,
  finalize,
  finalizeCompact,
  getAttributionPool,
  getCompactJobState,
  getContribution,
  getJob,
  getMarketAccount,
  getStake,
  getTokenBalance,
  jobMarketAbi,
  materializeCompactJob,
  openTokenAbi,
  rejectContribution,
  requestUnbonding,
  setAttributionWeights,
  setPayoutToBalance,
  signBid,
  stake,
  sweepTreasury,
  type WriteResult,
  withdrawBalance,
  withdrawContributionStake,
  withdrawStake,
} from '../src/index.js'
import { chainTime, type Protocol, setupProtocol, type Wallet } from './helpers.js'

const RUNS = Number(process.env.OCN_PROPERTY_RUNS ?? 300)
const e = parseEther
let p: Protocol
let reader: ReturnType<typeof createPublicClient>
let actors: Wallet[]
let holders: Address[]
let totalSupply: bigint

const WINDOW = 100
const SHARE_BPS = 1_000
const FEE_BPS = 300
const weightedModel = keccak256(toHex('m with weights'))
const plainModel = keccak256(toHex('m'))
const BURN_SINK: Address = '0x000000000000000000000000000000000000dEaD'
beforeAll(async () => {
  p = await setupProtocol({
    challengeWindow: WINDOW,
    unbondingDelay: 200n,
    verifierMinStake: e('50'),
    protocolFeeBps: FEE_BPS,
    attributionShareBps: SHARE_BPS,
    cheatSlashBps: 7_500,
    noShowSlashBps: 2_500,
    challengerRewardBps: 4_000,
  })
  reader = createPublicClient({
    chain: p.chain.chain,
    transport: http(p.chain.rpcUrl, { batch: { wait: 0 } }),
  })
  actors = [p.requester, p.provider, p.verifier, p.other]
  const { token, stakeManager, jobMarket } = p.deployment.addresses
  for (const a of actors) {
    await approveToken(a, { token, spender: stakeManager, amount: 2n ** 255n })
    await approveToken(a, { token, spender: jobMarket, amount: 2n ** 255n })
    await stake(a, { stakeManager, amount: e('400') })
    await approveToken(a, { token, spender: p.deployment.addresses.datanetRegistry!, amount: 2n ** 255n })
  }
  holders = [p.admin.account.address, p.treasury.account.address, ...actors.map((a) => a.account.address)]
  totalSupply = await readContract(reader, { address: token, abi: openTokenAbi, functionName: 'totalSupply' })
  await setAttributionWeights(p.admin, {
    attributionPool: p.deployment.addresses.attributionPool!,
    modelId: weightedModel,
    weightsRoot: keccak256(toHex('weights root')),
    resultHash: keccak256(toHex('attribution result')),
  })
}, 120_000)
afterAll(async () => {
  await p?.chain.stop()
})

type Action =
  | {
      kind: 'award'
      requester: number
      provider: number
      price: bigint
      collateral: bigint
      ttl: number
      weighted: boolean
      /** 0: an ordinary award; 1 to 3: a compact batch of that many such jobs */
      compact: number
    }
  | { kind: 'commit'; job: number }
  | { kind: 'materialize'; job: number; caller: number }
  | { kind: 'finalize'; job: number; caller: number }
  | { kind: 'expire'; job: number; caller: number }
  | { kind: 'advance'; seconds: number }
  | { kind: 'stake'; actor: number; amount: bigint }
  | { kind: 'unbond'; actor: number; amount: bigint }
  | { kind: 'withdraw'; actor: number }
  | { kind: 'sweep' }
  | { kind: 'deposit'; actor: number; amount: bigint }
  // whole: withdraw the actor's whole balance (else `amount`, often above it: refused)
  | { kind: 'withdrawBalance'; actor: number; amount: bigint; whole: boolean }
  | { kind: 'payoutToBalance'; actor: number; enabled: boolean }
  | { kind: 'createDatanet'; actor: number; curated: boolean }
  | { kind: 'contribute'; actor: number; datanet: number; rows: number }
  | { kind: 'curate'; datanet: number; index: number; accept: boolean }
  // wait: first move time past the stake lock (else the withdrawal is usually refused as locked)
  | { kind: 'withdrawContribution'; actor: number; datanet: number; index: number; wait: boolean }
  // the next natural step of a job (whatever its status), so sequences reach deep states
  | { kind: 'progress'; job: number; choice: number; caller: number }

const actor = fc.integer({ min: 0, max: 3 })
// jobs are picked counting back from the newest, mostly the newest, so sequences reach deep states
const job = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 5 }) },
)
const amount = (max: bigint) => fc.bigInt({ min: 0n, max })
const awardArb = fc.record({
  kind: fc.constant('award' as const),
  requester: actor,
  provider: actor,
  price: amount(e('60')),
  collateral: amount(e('250')),
  ttl: fc.integer({ min: 50, max: 400 }),
  weighted: fc.boolean(),
  compact: fc.oneof(
    { weight: 2, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
  ),
})
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: awardArb,
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('commit' as const), job }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('finalize' as const), job, caller: actor }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), job, caller: actor }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('materialize' as const), job, caller: actor }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      seconds: fc.integer({ min: 1, max: 250 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('stake' as const), actor, amount: amount(e('100')) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('unbond' as const), actor, amount: amount(e('300')) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), actor }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('deposit' as const), actor, amount: amount(e('120')) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('withdrawBalance' as const),
      actor,
      amount: amount(e('80')),
      whole: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('payoutToBalance' as const), actor, enabled: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('createDatanet' as const), actor, curated: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('contribute' as const),
      actor,
      datanet: fc.nat(3),
      rows: fc.integer({ min: 0, max: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('curate' as const),
      datanet: fc.nat(3),
      index: fc.nat(3),
      accept: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('withdrawContribution' as const),
      actor,
      datanet: fc.nat(3),
      index: fc.nat(3),
      wait: fc.boolean(),
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({ kind: fc.constant('progress' as const), job, choice: fc.nat(11), caller: actor }),
  },
)

interface JobModel {
  jobId: Hex
  provider: Address
  collateral: bigint
  price: bigint
  weighted: boolean
  /** a job of a compact batch: the batch (its records) and the job's index in it */
  compact?: { batch: CompactBatch; index: number }
}

interface DatanetModel {
  id: bigint
  creator: number
  /** contributions submitted so far (their indices are 0..count-1) */
  count: number
}

interface RunState {
  datanets: DatanetModel[]
  jobs: JobModel[]
  settlements: Map<Hex, number>
  nonce: bigint
  salt: bigint
  compactSalt: bigint
}

async function step(s: RunState, a: Action): Promise<WriteResult | undefined> {
  const { jobMarket, stakeManager } = p.deployment.addresses
  const pick = (i: number) => s.jobs[s.jobs.length - 1 - (i % Math.max(1, s.jobs.length))]
  switch (a.kind) {
    case 'award':
      return awardStep(s, a)
    case 'commit': {
      const j = pick(a.job)
      if (!j) return undefined
      const provider = actors.find((w) => w.account.address === j.provider)!
      const resultRoot = keccak256(j.jobId)
      if (j.compact && !(await isMoved(j)))
        return commitCompact(provider, {
          jobMarket,
          jobs: j.compact.batch.jobs,
          commits: [{ index: j.compact.index, resultRoot }],
        })
      return commitResult(provider, { jobMarket, jobId: j.jobId, resultRoot, leafCount: 5 })
    }
    case 'finalize': {
      const j = pick(a.job)
      if (!j) return undefined
      if (j.compact && !(await isMoved(j)))
        return finalizeCompact(actors[a.caller]!, {
          jobMarket,
          jobs: j.compact.batch.jobs,
          indices: [j.compact.index],
        })
      return finalize(actors[a.caller]!, { jobMarket, jobId: j.jobId })
    }
    case 'expire': {
      const j = pick(a.job)
      if (!j) return undefined
      // a compact job is moved to ordinary storage first (refused unless Awarded or Committed)
      if (j.compact && !(await isMoved(j)))
        await step(s, { kind: 'materialize', job: a.job, caller: a.caller })
      return expire(actors[a.caller]!, { jobMarket, jobId: j.jobId })
    }
    case 'materialize': {
      const j = pick(a.job)
      if (!j?.compact) return undefined
      return materializeCompactJob(actors[a.caller]!, {
        jobMarket,
        jobs: j.compact.batch.jobs,
        index: j.compact.index,
      })
    }
    case 'advance':
      await p.test.increaseTime({ seconds: a.seconds })
      await p.test.mine({ blocks: 1 })
      return undefined
    case 'stake':
      return stake(actors[a.actor]!, { stakeManager, amount: a.amount })
    case 'unbond':
      return requestUnbonding(actors[a.actor]!, { stakeManager, amount: a.amount })
    case 'withdraw':
      return withdrawStake(actors[a.actor]!, { stakeManager })
    case 'sweep':
      return sweepTreasury(actors[0]!, { jobMarket })
    case 'deposit':
      return depositBalance(actors[a.actor]!, { jobMarket, amount: a.amount })
    case 'withdrawBalance': {
      const account = actors[a.actor]!.account.address
      const whole = a.whole ? (await getMarketAccount(reader, { jobMarket, account })).balance : a.amount
      return withdrawBalance(actors[a.actor]!, { jobMarket, amount: whole })
    }
    case 'payoutToBalance':
      return setPayoutToBalance(actors[a.actor]!, { jobMarket, enabled: a.enabled })
    case 'createDatanet':
    case 'contribute':
    case 'curate':
    case 'withdrawContribution':
      return datanetStep(s, a)
    case 'progress': {
      const j = pick(a.job)
      const fresh = {
        kind: 'award' as const,
        requester: a.caller,
        provider: (a.caller + 1 + (a.choice % 3)) % actors.length,
        price: e('1') * BigInt(a.choice + 1),
        collateral: e('10') * BigInt(a.choice),
        ttl: 100 + 20 * a.choice,
        weighted: false,
        compact: a.choice % 3 === 0 ? 1 + (a.choice % 2) : 0,
      }
      if (!j) return step(s, fresh)
      const { status, deadline } = await jobView(j)
      if (status === 'awarded' && a.choice % 4 === 0) {
        const now = Number(await chainTime(reader))
        if (now <= deadline) await step(s, { kind: 'advance', seconds: deadline - now + 1 })
        return step(s, { kind: 'expire', job: a.job, caller: a.caller })
      }
      if (status === 'awarded') return step(s, { kind: 'commit', job: a.job })
      if (status === 'committed') {
        await step(s, { kind: 'advance', seconds: WINDOW })
        return step(s, { kind: 'finalize', job: a.job, caller: a.caller })
      }
      return undefined
    }
  }
}

/** An ordinary award, or a compact batch of `a.compact` jobs with the same terms. */
async function awardStep(s: RunState, a: Extract<Action, { kind: 'award' }>): Promise<WriteResult> {
  const { jobMarket } = p.deployment.addresses
  const requester = actors[a.requester]!
  const provider = actors[a.provider]!
  const now = await chainTime(reader)
  const awards = []
  for (let i = 0; i < Math.max(1, a.compact); i++) {
    s.nonce += 1n
    if (a.compact === 0) s.salt += 1n
    else s.compactSalt += 1n
    const offer = {
      requester: requester.account.address,
      modelHash: a.weighted ? weightedModel : plainModel,
      inputHash: keccak256(toHex('i')),
      specHash: keccak256(toHex('s')),
      kind: 0,
      verification: 0,
      maxPrice: e('60'),
      minCollateral: 0n,
      biddingEnds: now,
      deadline: now + BigInt(a.ttl),
      sampleCount: 5,
      microBatchSize: 1,
      salt: a.compact === 0 ? s.salt : compactSalt(s.compactSalt),
    }
    const bid = {
      jobId: jobIdOf(offer),
      provider: provider.account.address,
      price: a.price,
      collateral: a.collateral,
      expiry: now + 1000n,
      nonce: s.nonce,
      etaSeconds: 10,
    }
    awards.push({ offer, bid, signature: await signBid(provider, { domain: p.domain, bid }) })
  }
  const model = (jobId: Hex) => ({
    jobId,
    provider: provider.account.address,
    collateral: a.collateral,
    price: a.price,
    weighted: a.weighted,
  })
  if (a.compact === 0) {
    const result = await award(requester, { jobMarket, ...awards[0]! })
    s.jobs.push(model(result.jobId))
    return result
  }
  const result = await awardCompact(requester, { jobMarket, awards })
  const batch = { batchId: result.batchId, jobs: result.jobs }
  result.jobs.forEach((job, index) => {
    s.jobs.push({ ...model(job.jobId), compact: { batch, index } })
  })
  return result
}

/** Whether a compact job was moved to ordinary storage (always false for an ordinary job). */
async function isMoved(j: JobModel): Promise<boolean> {
  if (!j.compact) return false
  const { jobMarket } = p.deployment.addresses
  const lane = await getCompactJobState(reader, {
    jobMarket,
    batchId: j.compact.batch.batchId,
    index: j.compact.index,
  })
  return lane.moved
}

/** A job's status, deadline, price and attribution share, wherever it is stored. */
async function jobView(j: JobModel) {
  const { jobMarket } = p.deployment.addresses
  if (j.compact && !(await isMoved(j))) {
    const { batchId, jobs } = j.compact.batch
    const record = jobs[j.compact.index]!
    const lane = await getCompactJobState(reader, { jobMarket, batchId, index: j.compact.index })
    return {
      status: lane.status,
      deadline: record.deadline,
      price: record.price,
      collateral: record.collateral,
      attributionBps: record.attributionBps,
      // the record holds the provider's account id; the award bound it to this address
      provider: j.provider,
    }
  }
  return getJob(reader, { jobMarket, jobId: j.jobId })
}

type DatanetAction = Extract<
  Action,
  { kind: 'createDatanet' | 'contribute' | 'curate' | 'withdrawContribution' }
>

async function datanetStep(s: RunState, a: DatanetAction): Promise<WriteResult | undefined> {
  const datanetRegistry = p.deployment.addresses.datanetRegistry!
  if (a.kind === 'createDatanet') {
    const created = await createDatanet(actors[a.actor]!, {
      datanetRegistry,
      curated: a.curated,
      metadataHash: keccak256(toHex('d')),
    })
    s.datanets.push({ id: created.datanetId, creator: a.actor, count: 0 })
    return created
  }
  // a datanet step on none yet creates one first, so short sequences reach contributions
  if (s.datanets.length === 0) {
    await datanetStep(s, {
      kind: 'createDatanet',
      actor: a.datanet % actors.length,
      curated: a.datanet % 2 === 0,
    })
  }
  const d = s.datanets[s.datanets.length - 1 - (a.datanet % s.datanets.length)]
  if (!d) return undefined
  const datanetId = d.id
  if (a.kind === 'contribute') {
    const dataHash = keccak256(toHex(`data ${a.actor}`))
    const done = await contribute(actors[a.actor]!, {
      datanetRegistry,
      datanetId,
      dataHash,
      rows: BigInt(a.rows),
    })
    d.count += 1
    return done
  }
  if (d.count === 0) return undefined
  const index = BigInt(a.index % d.count)
  if (a.kind === 'curate') {
    const curate = a.accept ? acceptContribution : rejectContribution
    return curate(actors[d.creator]!, { datanetRegistry, datanetId, index })
  }
  if (a.wait) {
    await p.test.increaseTime({ seconds: defaultDatanetParameters.stakeLockPeriod + 1 })
    await p.test.mine({ blocks: 1 })
  }
  // a stake comes back only once unlocked and past any challenge period
  const before = await getContribution(reader, { datanetRegistry, datanetId, index })
  const done = await withdrawContributionStake(actors[a.actor]!, { datanetRegistry, datanetId, index })
  if (before.status === 'accepted') {
    const { timestamp } = await reader.getBlock({ blockNumber: done.receipt.blockNumber })
    expect(Number(timestamp)).toBeGreaterThan(Math.max(before.unlocksAt, before.challengeableUntil))
  }
  return done
}

async function checkInvariants(s: RunState, result: WriteResult | undefined): Promise<void> {
  const { token, stakeManager, jobMarket } = p.deployment.addresses

  // no job is settled (paid, refunded or slashed) twice; slashes never exceed the locked collateral
  if (result) {
    const logs = parseEventLogs({ abi: jobMarketAbi, logs: result.receipt.logs })
    for (const log of logs) {
      if (log.eventName === 'CompactFinalized') {
        // paid in its batch: once, and the pool's share exactly as for an ordinary job
        for (const index of log.args.indices) {
          const model = s.jobs.find(
            (j) => j.compact?.batch.batchId === log.args.batchId && j.compact.index === Number(index),
          )!
          s.settlements.set(model.jobId, (s.settlements.get(model.jobId) ?? 0) + 1)
          expect(s.settlements.get(model.jobId)).toBe(1)
          const share = model.weighted ? (model.price * BigInt(SHARE_BPS)) / 10_000n : 0n
          const paid = logs.find((l) => l.eventName === 'AttributionPaid' && l.args.jobId === model.jobId)
          expect(paid !== undefined && 'amount' in paid.args ? paid.args.amount : 0n).toBe(share)
        }
      }
      if (log.eventName === 'JobFinalized' || log.eventName === 'JobExpired') {
        const jobId = log.args.jobId
        const model = s.jobs.find((j) => j.jobId === jobId)!
        s.settlements.set(jobId, (s.settlements.get(jobId) ?? 0) + 1)
        expect(s.settlements.get(jobId)).toBe(1)
        if (log.eventName !== 'JobFinalized') expect(log.args.slashed).toBeLessThanOrEqual(model.collateral)
        if (log.eventName === 'JobFinalized') {
          // the price splits exactly into payout, fee and (for a weighted model) the pool's share
          const share = model.weighted ? (model.price * BigInt(SHARE_BPS)) / 10_000n : 0n
          const paid = logs.find((l) => l.eventName === 'AttributionPaid' && l.args.jobId === jobId)
          expect(paid !== undefined && 'amount' in paid.args ? paid.args.amount : 0n).toBe(share)
          expect(log.args.fee).toBe((model.price * BigInt(FEE_BPS)) / 10_000n)
          expect(log.args.payout + log.args.fee + share).toBe(model.price)
        }
      }
    }
  }

  const pool = p.deployment.addresses.attributionPool!
  const balanceOf = (account: Address) => getTokenBalance(reader, { token, account })
  const poolState = (modelId: Hex) => getAttributionPool(reader, { attributionPool: pool, modelId })
  const registry = p.deployment.addresses.datanetRegistry!
  const readRegistry = (functionName: 'totalStaked' | 'totalBurned') =>
    readContract(reader, { address: registry, abi: datanetRegistryAbi, functionName })
  const [registryBalance, sinkBalance, staked, burned] = await Promise.all([
    balanceOf(registry),
    balanceOf(BURN_SINK),
    readRegistry('totalStaked'),
    readRegistry('totalBurned'),
  ])
  const [
    holderBalances,
    marketBalance,
    stakeBalance,
    poolBalance,
    weighted,
    plain,
    stakes,
    jobs,
    accrued,
    accounts,
  ] = await Promise.all([
    Promise.all(holders.map(balanceOf)),
    balanceOf(jobMarket),
    balanceOf(stakeManager),
    balanceOf(pool),
    poolState(weightedModel),
    poolState(plainModel),
    Promise.all(actors.map((a) => getStake(reader, { stakeManager, account: a.account.address }))),
    Promise.all(s.jobs.map(async (j) => ({ ...(await jobView(j)), model: j }))),
    readContract(reader, { address: jobMarket, abi: jobMarketAbi, functionName: 'treasuryAccrued' }),
    Promise.all(actors.map((a) => getMarketAccount(reader, { jobMarket, account: a.account.address }))),
  ])

  // token conservation: every holder, the four contracts and the burn sink account for the whole
  // supply, to the wei; the sink holds exactly what datanet creation burned, the registry exactly
  // the live contribution stakes
  const sum = holderBalances.reduce((x, y) => x + y, 0n) + marketBalance + stakeBalance + poolBalance
  expect(sum + registryBalance + sinkBalance).toBe(totalSupply)
  expect(sinkBalance).toBe(burned)
  expect(registryBalance).toBe(staked)

  // the pool holds exactly the shares of finalized jobs on the weighted model, all of it pending
  // (nothing settles rounds here); the model without weights was never paid anything
  const shares = jobs
    .filter((j) => j.status === 'finalized' && j.model.weighted)
    .reduce((x, j) => x + (j.price * BigInt(SHARE_BPS)) / 10_000n, 0n)
  expect(poolBalance).toBe(shares)
  expect(weighted.pending).toBe(shares)
  expect(plain.pending).toBe(0n)
  for (const j of jobs) expect(j.attributionBps).toBe(j.model.weighted ? SHARE_BPS : 0)

  // the StakeManager holds exactly the stake it owes
  expect(stakeBalance).toBe(stakes.reduce((x, st) => x + st.staked + st.unbonding, 0n))

  // the JobMarket holds exactly open escrows, the treasury's accrual and the actors' balances
  // (bonds are the court's): no refund or payout credited twice or stranded
  const open = jobs.filter((j) => j.status === 'awarded' || j.status === 'committed')
  const balances = accounts.reduce((x, acc) => x + acc.balance, 0n)
  expect(marketBalance).toBe(open.reduce((x, j) => x + j.price, 0n) + accrued + balances)

  // locked stake is exactly the collateral of each provider's open jobs, and never above its stake
  actors.forEach((a, i) => {
    const st = stakes[i]!
    const lockedByJobs = open
      .filter((j) => j.provider === a.account.address)
      .reduce((x, j) => x + j.collateral, 0n)
    expect(st.locked).toBe(lockedByJobs)
    expect(st.locked).toBeLessThanOrEqual(st.staked)
  })
}

/** Names a progress step by the event its transaction emitted. */
function progressKind(result: WriteResult): string {
  const names: Record<string, string> = {
    CompactBatchAwarded: 'awardCompact',
    ResultCommitted: 'commit',
    CompactCommitted: 'commitCompact',
    JobFinalized: 'finalize',
    CompactFinalized: 'finalizeCompact',
    JobExpired: 'expire',
    CompactJobMaterialized: 'materialize',
  }
  const logs = parseEventLogs({ abi: jobMarketAbi, logs: result.receipt.logs })
  return logs.map((l) => names[l.eventName]).find((n) => n !== undefined) ?? 'other'
}

describe('protocol invariants under random action sequences', () => {
  it(`hold over ${RUNS} sequences`, { timeout: 900_000 }, async () => {
    let snapshot = await p.test.snapshot()
    let reverted = 0
    let succeeded = 0
    const transitions = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(
        awardArb,
        fc.array(actionArb, { minLength: 1, maxLength: 12 }),
        async (first, rest) => {
          const actions: Action[] = [first, ...rest]
          await p.test.revert({ id: snapshot })
          snapshot = await p.test.snapshot()
          const s: RunState = {
            datanets: [],
            jobs: [],
            settlements: new Map(),
            nonce: 0n,
            salt: 0n,
            compactSalt: 0n,
          }
          for (const a of actions) {
            let result: WriteResult | undefined
            try {
              result = await step(s, a)
              if (result) {
                succeeded++
                const named = progressKind(result)
                const kind = a.kind === 'progress' || named !== 'other' ? named : a.kind
                transitions.set(kind, (transitions.get(kind) ?? 0) + 1)
              }
            } catch (err) {
              // a step invalid in the current state must be refused with a decoded custom error
              if (!(err instanceof ContractRevertError)) throw err
              reverted++
            }
            await checkInvariants(s, result)
          }
        },
      ),
      { numRuns: RUNS },
    )
    // the generator must exercise real transitions, not only refusals
    const kinds = [...transitions.entries()].map(([k, n]) => `${k}=${n}`).join(' ')
    console.info(`property: ${succeeded} transactions (${kinds}), ${reverted} refused steps`)
    for (const k of [
      'award',
      'commit',
      'finalize',
      'expire',
      'awardCompact',
      'commitCompact',
      'finalizeCompact',
      'materialize',
      'contribute',
      'deposit',
      'withdrawBalance',
    ]) {
      expect(transitions.get(k) ?? 0, k).toBeGreaterThan(0)
    }
    expect(succeeded).toBeGreaterThan(RUNS)
    expect(reverted).toBeGreaterThan(0)
  })
})
