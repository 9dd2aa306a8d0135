// Shared setup of the DisputeCourt tests: a real anvil with the real contracts, a pool of staked
// jurors, and the steps of a dispute (sealed challenge, draw, sealed votes, ruling, execution).
import { MerkleTree } from '@ocn/protocol'
import { type Address, createTestClient, type Hex, http, keccak256, parseEther, toHex } from 'viem'
import { readContract } from 'viem/actions'
import {
  approveToken,
  award,
  type CourtParameters,
  type CourtVote,
  challengeCommitment,
  commitChallenge,
  commitResult,
  commitVote,
  deployProtocol,
  disputeCourtAbi,
  drawJury,
  getCourtRound,
  getMarketAccount,
  getStake,
  getTokenBalance,
  jobMarketAbi,
  joinJury,
  type MarketParameters,
  revealChallenge,
  revealVote,
  ruleDispute,
  stakeManagerAbi,
  startDevChain,
  transferToken,
  voteCommitment,
} from '../src/index.js'
import {
  approveMarket,
  FUNDING,
  makeBid,
  makeOffer,
  type Protocol,
  stakeAs,
  type Wallet,
  walletFor,
} from './helpers.js'

export const e = parseEther

export interface CourtProtocol extends Protocol {
  court: Address
  jurors: Wallet[]
  /** a second account of the provider, or a copycat: whichever the test needs */
  extra: Wallet
  courtParams: CourtParameters
}

/** Juror stake each pool member locks (the same for all: sortition is then uniform). */
export const JUROR_STAKE = e('200')

/**
 * Starts anvil with 16 accounts and deploys: a0 admin, a1 requester, a2 provider, a3 verifier,
 * a4 other, a5 treasury, a6..a13 jurors (each in the pool with JUROR_STAKE), a14 extra.
 */
export async function setupCourt(
  court: Partial<CourtParameters> = {},
  params: Partial<MarketParameters> = {},
  jurorCount = 8,
): Promise<CourtProtocol> {
  const chain = await startDevChain({ accountCount: 16 })
  try {
    const w = chain.accounts.map((a) => walletFor(chain, a))
    const admin = w[0]!
    const deployment = await deployProtocol(admin, { treasury: w[5]!.account.address, params, court })
    const courtAddress = deployment.addresses.disputeCourt
    if (courtAddress === undefined || deployment.courtParams === undefined)
      throw new Error('no court deployed')
    for (const x of [...w.slice(1, 5), ...w.slice(6, 15)]) {
      await transferToken(admin, {
        token: deployment.addresses.token,
        to: x.account.address,
        amount: FUNDING,
      })
    }
    const test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
    const p: CourtProtocol = {
      chain,
      deployment,
      domain: { chainId: chain.chain.id, verifyingContract: deployment.addresses.jobMarket },
      admin,
      requester: w[1]!,
      provider: w[2]!,
      verifier: w[3]!,
      other: w[4]!,
      treasury: w[5]!,
      test,
      court: courtAddress,
      jurors: w.slice(6, 6 + jurorCount),
      extra: w[14]!,
      courtParams: deployment.courtParams,
    }
    for (const j of p.jurors) {
      await stakeAs(p, j, JUROR_STAKE)
      await joinJury(j, { disputeCourt: p.court, amount: JUROR_STAKE })
    }
    return p
  } catch (err) {
    await chain.stop()
    throw err
  }
}

export const LEAVES = 8
/** The true outputs of every job here, and a forgery that fakes `FORGED_LEAF`. */
export const trueData = Array.from({ length: LEAVES }, (_, i) => keccak256(toHex(`output ${i}`)))
export const FORGED_LEAF = 3
export const forgedData = trueData.map((h, i) => (i === FORGED_LEAF ? keccak256(toHex('forged')) : h))

/** Awards a job (price 40, collateral 200) and commits `data`'s root; returns the job id. */
export async function committedJob(p: CourtProtocol, data: readonly Hex[] = forgedData): Promise<Hex> {
  const offer = await makeOffer(p)
  const { bid, signature } = await makeBid(p, offer)
  await approveMarket(p, p.requester, bid.price)
  await award(p.requester, { jobMarket: p.deployment.addresses.jobMarket, offer, bid, signature })
  const tree = MerkleTree.fromDataHashes([...data])
  await commitResult(p.provider, {
    jobMarket: p.deployment.addresses.jobMarket,
    jobId: bid.jobId,
    resultRoot: tree.root,
    leafCount: data.length,
  })
  return bid.jobId
}

/** Makes `wallet` a verifier: stakes `amount` and approves the court for bonds. */
export async function makeVerifier(p: CourtProtocol, wallet: Wallet, amount = e('200')): Promise<void> {
  await stakeAs(p, wallet, amount)
  await approveToken(wallet, { token: p.deployment.addresses.token, spender: p.court, amount: e('1000') })
}

export interface SealedChallenge {
  disputeId: bigint
  leafIndex: bigint
  claimedDataHash: Hex
  salt: Hex
}

let saltCounter = 0
function freshSalt(): Hex {
  saltCounter += 1
  return keccak256(toHex(`salt ${saltCounter}`))
}

/** Commits a sealed challenge of `leafIndex` claiming the true output there. */
export async function commitLeafChallenge(
  p: CourtProtocol,
  wallet: Wallet,
  jobId: Hex,
  leafIndex: number,
  claimedDataHash: Hex = trueData[leafIndex]!,
): Promise<SealedChallenge> {
  const salt = freshSalt()
  const commitment = challengeCommitment({
    jobId,
    challenger: wallet.account.address,
    leafIndex: BigInt(leafIndex),
    claimedDataHash,
    salt,
  })
  const { disputeId } = await commitChallenge(wallet, { disputeCourt: p.court, jobId, commitment })
  return { disputeId, leafIndex: BigInt(leafIndex), claimedDataHash, salt }
}

/** Reveals in a later block than the commitment (the simulation runs against the latest block). */
export async function reveal(p: CourtProtocol, wallet: Wallet, c: SealedChallenge): Promise<void> {
  await p.test.mine({ blocks: 1 })
  await revealChallenge(wallet, { disputeCourt: p.court, ...c })
}

/** What a juror does in a round: vote one way, or stay silent (`null`: commits nothing). */
export type JurorPolicy = (juror: Address, round: bigint) => CourtVote | null

/** Guilty for the forged leaf, not guilty elsewhere: what re-executing the leaf shows. */
export function honestChoice(leafIndex: bigint, committed: readonly Hex[] = forgedData): CourtVote {
  const i = Number(leafIndex)
  return committed[i] === trueData[i] ? 2 : 1
}

/** Mines past the draw block and draws the round; returns the seated jurors. */
export async function draw(p: CourtProtocol, disputeId: bigint): Promise<readonly Address[]> {
  await p.test.mine({ blocks: p.courtParams.drawDelay + 1 })
  await drawJury(p.admin, { disputeCourt: p.court, disputeId })
  return (await getCourtRound(p.admin, { disputeCourt: p.court, disputeId })).jurors
}

export function walletOf(p: CourtProtocol, address: Address): Wallet {
  const w = p.jurors.find((j) => j.account.address === address)
  if (w === undefined) throw new Error(`${address} is not a test juror`)
  return w
}

/** One seat of a round and what its juror did (null: silent). */
export interface Seat {
  juror: Address
  choice: CourtVote | null
}

/**
 * What the jurors of a dispute should gain or lose, computed from the rules (not read from the
 * contract): each seat that voted against `ruling` or stayed silent loses `penalty`; the
 * coherent seats share the penalties plus `pot` equally; the rest (dust, or everything when
 * nobody was coherent) goes to the treasury.
 */
export function expectedJury(
  seats: readonly Seat[],
  ruling: number,
  pot: bigint,
  penalty: bigint,
): { deltas: Map<Address, bigint>; toTreasury: bigint } {
  const deltas = new Map<Address, bigint>()
  const add = (a: Address, v: bigint) => deltas.set(a, (deltas.get(a) ?? 0n) + v)
  let total = pot
  const coherent = seats.filter((s) => s.choice !== null && s.choice === ruling)
  for (const s of seats) {
    add(s.juror, 0n)
    const spared = s.choice !== null && (s.choice === ruling || ruling === 3)
    if (!spared) {
      add(s.juror, -penalty)
      total += penalty
    }
  }
  if (coherent.length === 0) return { deltas, toTreasury: total }
  const each = total / BigInt(coherent.length)
  for (const s of coherent) add(s.juror, each)
  return { deltas, toTreasury: total - each * BigInt(coherent.length) }
}

/** Draws, lets every seated juror act by `policy`, then rules (after the deadlines if someone is silent). */
export async function drawVoteRule(
  p: CourtProtocol,
  disputeId: bigint,
  policy: JurorPolicy,
): Promise<Seat[]> {
  const seated = await draw(p, disputeId)
  const { index: round } = await getCourtRound(p.admin, { disputeCourt: p.court, disputeId })
  const votes = seated.map((juror) => ({ juror, choice: policy(juror, round), salt: freshSalt() }))
  for (const v of votes) {
    if (v.choice === null) continue
    const commitment = voteCommitment({ disputeId, round, juror: v.juror, choice: v.choice, salt: v.salt })
    await commitVote(walletOf(p, v.juror), { disputeCourt: p.court, disputeId, commitment })
  }
  if (votes.some((v) => v.choice === null)) await advance(p, p.courtParams.voteCommitPeriod + 1)
  for (const v of votes) {
    if (v.choice === null) continue
    await revealVote(walletOf(p, v.juror), {
      disputeCourt: p.court,
      disputeId,
      choice: v.choice,
      salt: v.salt,
    })
  }
  if (votes.some((v) => v.choice === null)) await advance(p, p.courtParams.voteRevealPeriod + 1)
  await ruleDispute(p.admin, { disputeCourt: p.court, disputeId })
  return votes.map(({ juror, choice }) => ({ juror, choice }))
}

export async function advance(p: Protocol, seconds: number): Promise<void> {
  await p.test.increaseTime({ seconds })
  await p.test.mine({ blocks: 1 })
}

/** An account's wealth in the protocol: OPEN held, staked (locked included) and in its JobMarket balance. */
export async function wealth(p: CourtProtocol, account: Address): Promise<bigint> {
  const balance = await getTokenBalance(p.admin, { token: p.deployment.addresses.token, account })
  const s = await getStake(p.admin, { stakeManager: p.deployment.addresses.stakeManager, account })
  const market = await getMarketAccount(p.admin, { jobMarket: p.deployment.addresses.jobMarket, account })
  return balance + s.staked + s.unbonding + market.balance
}

/** The treasury's wealth: what it holds plus what the JobMarket has accrued for it. */
export async function treasuryWealth(p: CourtProtocol): Promise<bigint> {
  const accrued = await readContract(p.admin, {
    address: p.deployment.addresses.jobMarket,
    abi: jobMarketAbi,
    functionName: 'treasuryAccrued',
  })
  return (await wealth(p, p.treasury.account.address)) + accrued
}

export async function courtBalance(p: CourtProtocol): Promise<bigint> {
  return getTokenBalance(p.admin, { token: p.deployment.addresses.token, account: p.court })
}

/** Snapshot of every party's wealth, to compare to the wei after a scenario. */
export async function snapshot(
  p: CourtProtocol,
  accounts: readonly Address[],
): Promise<Map<Address, bigint>> {
  const m = new Map<Address, bigint>()
  for (const a of accounts) m.set(a, await wealth(p, a))
  m.set(p.treasury.account.address, await treasuryWealth(p))
  return m
}

export async function lockedOf(p: CourtProtocol, account: Address): Promise<bigint> {
  const [, locked] = await readContract(p.admin, {
    address: p.deployment.addresses.stakeManager,
    abi: stakeManagerAbi,
    functionName: 'stakeOf',
    args: [account],
  })
  return locked
}

export async function disputeOf(p: CourtProtocol, disputeId: bigint) {
  return readContract(p.admin, {
    address: p.court,
    abi: disputeCourtAbi,
    functionName: 'getDispute',
    args: [disputeId],
  })
}
