// The world of the adversarial court property test: one anvil with the real contracts under the
// deploy.ts defaults (a shorter challenge window), honest and adversarial actors, a juror pool
// with a lazy juror and two colluders, and the accounting every step must satisfy to the wei.
import {
  type Address,
  createPublicClient,
  createTestClient,
  encodeAbiParameters,
  type Hex,
  http,
  keccak256,
  parseEther,
  toHex,
  zeroAddress,
} from 'viem'
import { readContract } from 'viem/actions'
import { expect } from 'vitest'
import {
  approveToken,
  CourtPhase,
  type Deployment,
  type DevChain,
  deployProtocol,
  disputeCourtAbi,
  getCourtDispute,
  getCourtRound,
  getJob,
  getJuror,
  getStake,
  getTokenBalance,
  jobMarketAbi,
  joinJury,
  openTokenAbi,
  stake,
  startDevChain,
  transferToken,
} from '../src/index.js'
import { type Wallet, walletFor } from './helpers.js'

export const e = parseEther
export const WINDOW = 300
/** Leaves of every job: the offer's sampleCount / microBatchSize, fixed at award. */
export const LEAVES = 8

export interface Actors {
  admin: Wallet
  treasury: Wallet
  /** honest requester */
  requester: Wallet
  /** requester that awards at the last second and challenges falsely through `grieferPuppet` */
  griefer: Wallet
  grieferPuppet: Wallet
  /** honest provider: commits the true result at once; its wealth must never decrease */
  provider: Wallet
  /** forges leaves; its `puppet` challenges honest leaves of its jobs */
  cheater: Wallet
  puppet: Wallet
  /** honest verifier: challenges a forged leaf, appeals a wrong acquittal */
  verifier: Wallet
  /** copies the verifier's sealed commitments verbatim, and its revealed challenges */
  copycat: Wallet
  /**
   * Eleven: eight honest jurors, then the lazy one, then two colluders (acquit the cheater). Eleven
   * so that the default appeal jury (2 · 5 + 1) can be seated and appeal rounds are voted.
   */
  jurors: Wallet[]
}

export type JurorKind = 'honest' | 'lazy' | 'collude'
export const JUROR_COUNT = 11
export const jurorKind = (i: number): JurorKind => (i < 8 ? 'honest' : i === 8 ? 'lazy' : 'collude')

export interface World extends Actors {
  chain: DevChain
  deployment: Deployment
  court: Address
  reader: ReturnType<typeof createPublicClient>
  test: ReturnType<typeof createTestClient>
  everyone: Wallet[]
  totalSupply: bigint
}

export async function createWorld(): Promise<World> {
  const chain = await startDevChain({ accountCount: 10 + JUROR_COUNT })
  try {
    const w = chain.accounts.map((a) => walletFor(chain, a))
    const admin = w[0]!
    const deployment = await deployProtocol(admin, {
      treasury: w[1]!.account.address,
      params: { challengeWindow: WINDOW, unbondingDelay: 2n * BigInt(WINDOW) },
    })
    const court = deployment.addresses.disputeCourt
    if (court === undefined) throw new Error('no DisputeCourt deployed')
    const actors: Actors = {
      admin,
      treasury: w[1]!,
      requester: w[2]!,
      griefer: w[3]!,
      provider: w[4]!,
      cheater: w[5]!,
      puppet: w[6]!,
      verifier: w[7]!,
      copycat: w[8]!,
      grieferPuppet: w[9]!,
      jurors: w.slice(10, 10 + JUROR_COUNT),
    }
    const world: World = {
      ...actors,
      chain,
      deployment,
      court,
      reader: createPublicClient({
        chain: chain.chain,
        transport: http(chain.rpcUrl, { batch: { wait: 0 } }),
      }),
      test: createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) }),
      everyone: w,
      totalSupply: 0n,
    }
    await fund(world)
    world.totalSupply = await readContract(world.reader, {
      address: deployment.addresses.token,
      abi: openTokenAbi,
      functionName: 'totalSupply',
    })
    return world
  } catch (err) {
    await chain.stop()
    throw err
  }
}

async function fund(w: World): Promise<void> {
  const { token, stakeManager, jobMarket } = w.deployment.addresses
  for (const x of w.everyone.slice(2)) {
    await transferToken(w.admin, { token, to: x.account.address, amount: e('5000') })
    for (const spender of [stakeManager, jobMarket, w.court]) {
      await approveToken(x, { token, spender, amount: 2n ** 255n })
    }
    await stake(x, { stakeManager, amount: e('400') })
  }
  for (const j of w.jurors) await joinJury(j, { disputeCourt: w.court, amount: e('300') })
}

export const trueLeaf = (jobId: Hex, i: number): Hex =>
  keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [jobId, BigInt(i)]))
export const forgedLeaf = (jobId: Hex, i: number): Hex => keccak256(toHex(`forged ${jobId} ${i}`))
export const WRONG_CLAIM = keccak256(toHex('not the output'))

export interface JobModel {
  jobId: Hex
  provider: Wallet
  price: bigint
  collateral: bigint
  /** the committed leaves (undefined until committed) */
  leaves?: Hex[]
}

export interface DisputeModel {
  id: bigint
  job: JobModel
  challenger: Wallet
  leaf: number
  claim: Hex
  salt: Hex
  /** a verbatim copy of someone else's sealed commitment: its reveal must always fail */
  copied: boolean
}

export const isForged = (job: JobModel, leaf: number) =>
  job.leaves !== undefined && job.leaves[leaf] !== trueLeaf(job.jobId, leaf)

/** OPEN an account holds plus its stake (locked and unbonding included). */
export async function wealth(w: World, account: Address): Promise<bigint> {
  const { token, stakeManager } = w.deployment.addresses
  const [balance, s] = await Promise.all([
    getTokenBalance(w.reader, { token, account }),
    getStake(w.reader, { stakeManager, account }),
  ])
  return balance + s.staked + s.unbonding
}

const OPEN_JOB = new Set(['awarded', 'committed', 'challenged'])

/** What the court holds for one dispute until it closes: its bond and appeal bonds; and the stake it locks. */
async function courtHolds(w: World, d: DisputeModel): Promise<{ bonds: bigint; atRisk: bigint }> {
  const s = await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.id })
  if (s.phase === CourtPhase.closed) return { bonds: 0n, atRisk: 0n }
  const rounds = await readContract(w.reader, {
    address: w.court,
    abi: disputeCourtAbi,
    functionName: 'roundCount',
    args: [d.id],
  })
  let bonds = s.bond
  for (let round = 1n; round < rounds; round++) {
    const r = await getCourtRound(w.reader, { disputeCourt: w.court, disputeId: d.id, round })
    if (r.appellant !== zeroAddress) bonds += r.appealBond
  }
  return { bonds, atRisk: s.stakeAtRisk }
}

/**
 * Conservation to the wei: every token is with a holder or a contract; the StakeManager holds
 * exactly the stake it owes; the JobMarket exactly the open escrows and the treasury's accrual;
 * the court exactly the bonds of its open disputes; each account's locked stake is exactly its
 * open collateral, its stake at risk in open disputes and its juror stake.
 */
export async function checkConservation(w: World, jobs: JobModel[], disputes: DisputeModel[]): Promise<void> {
  const { token, stakeManager, jobMarket, attributionPool } = w.deployment.addresses
  const balanceOf = (account: Address) => getTokenBalance(w.reader, { token, account })
  const addresses = w.everyone.map((x) => x.account.address)
  const [holders, market, courtBalance, staked, pool, stakes, accrued, jobStates, holds, jurors] =
    await Promise.all([
      Promise.all(addresses.map(balanceOf)),
      balanceOf(jobMarket),
      balanceOf(w.court),
      balanceOf(stakeManager),
      attributionPool === undefined ? 0n : balanceOf(attributionPool),
      Promise.all(addresses.map((account) => getStake(w.reader, { stakeManager, account }))),
      readContract(w.reader, { address: jobMarket, abi: jobMarketAbi, functionName: 'treasuryAccrued' }),
      Promise.all(jobs.map((j) => getJob(w.reader, { jobMarket, jobId: j.jobId }))),
      Promise.all(disputes.map((d) => courtHolds(w, d))),
      Promise.all(addresses.map((juror) => getJuror(w.reader, { disputeCourt: w.court, juror }))),
    ])
  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n)
  expect(sum(holders) + market + courtBalance + staked + pool).toBe(w.totalSupply)
  expect(staked).toBe(sum(stakes.map((s) => s.staked + s.unbonding)))
  const open = jobs.filter((_, i) => OPEN_JOB.has(jobStates[i]!.status))
  expect(market).toBe(sum(open.map((j) => j.price)) + accrued)
  expect(courtBalance).toBe(sum(holds.map((h) => h.bonds)))
  expect(pool).toBe(0n)
  addresses.forEach((a, i) => {
    const collateral = sum(open.filter((j) => j.provider.account.address === a).map((j) => j.collateral))
    const atRisk = sum(disputes.map((d, k) => (d.challenger.account.address === a ? holds[k]!.atRisk : 0n)))
    expect(stakes[i]!.locked, `locked stake of ${a}`).toBe(collateral + atRisk + jurors[i]!.stake)
  })
}
