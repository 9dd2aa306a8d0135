// The steps of the adversarial court property test: what each actor does when the generator
// picks it. Every step goes through the real contracts; a step the state does not allow must be
// refused with a decoded custom error (the caller counts those).
import { jobIdOf, MerkleTree } from '@ocn/protocol'
import { type Hex, keccak256, toHex } from 'viem'
import {
  appealDispute,
  award,
  CourtPhase,
  CourtRuling,
  CourtVote,
  challengeCommitment,
  commitChallenge,
  commitResult,
  commitVote,
  concedeChallenge,
  drawJury,
  executeDispute,
  expire,
  expireChallenge,
  finalize,
  getCourtDispute,
  getCourtRound,
  getJob,
  jobMarketAbi,
  requestUnbonding,
  revealChallenge,
  revealVote,
  ruleDispute,
  signBid,
  sweepTreasury,
  voteCommitment,
  type WriteResult,
  withdrawStake,
} from '../src/index.js'
import type { Wallet } from './helpers.js'
import {
  type DisputeModel,
  e,
  forgedLeaf,
  isForged,
  type JobModel,
  jurorKind,
  LEAVES,
  trueLeaf,
  type World,
  WRONG_CLAIM,
  wealth,
} from './property-court-world.js'

export interface RunState {
  jobs: JobModel[]
  disputes: DisputeModel[]
  salt: bigint
  nonce: bigint
}

/** Whether JobMarket has the award rules (no award after biddingEnds or past the deadline). */
const marketErrors: readonly string[] = jobMarketAbi.flatMap((x) => (x.type === 'error' ? [x.name] : []))
export const awardRulesInForce = marketErrors.includes('BiddingClosed')

let saltCounter = 0
const freshSalt = (): Hex => keccak256(toHex(`court property salt ${++saltCounter}`))

async function chainNow(w: World): Promise<bigint> {
  return (await w.reader.getBlock({ blockTag: 'latest' })).timestamp
}

export async function advance(w: World, seconds: number): Promise<void> {
  if (seconds > 0) await w.test.increaseTime({ seconds })
  await w.test.mine({ blocks: 1 })
}

/** Moves time just past `t` (a chain timestamp in seconds). */
async function advancePast(w: World, t: number): Promise<void> {
  await advance(w, Math.max(0, t - Number(await chainNow(w)) + 1))
}

export interface AwardAction {
  griefer: boolean
  cheater: boolean
  price: bigint
  collateral: bigint
  /** the griefer holds the signed bid and awards it after bidding closed, just before the deadline */
  lastSecond: boolean
}

/**
 * Awards a job; the honest provider commits its true result in the same step (it is prompt).
 * A last-second award must be refused; the honest provider never faces one.
 */
export async function awardStep(w: World, s: RunState, a: AwardAction): Promise<WriteResult> {
  const requester = a.griefer ? w.griefer : w.requester
  const provider = a.cheater ? w.cheater : w.provider
  const t = await chainNow(w)
  s.salt += 1n
  s.nonce += 1n
  const offer = {
    requester: requester.account.address,
    modelHash: keccak256(toHex('m')),
    inputHash: keccak256(toHex(`i ${s.salt}`)),
    specHash: keccak256(toHex('s')),
    kind: 0,
    verification: 0,
    maxPrice: e('60'),
    minCollateral: 0n,
    biddingEnds: t + 60n,
    deadline: t + 1200n,
    sampleCount: LEAVES * 2,
    microBatchSize: 2,
    salt: s.salt,
  }
  const bid = {
    jobId: jobIdOf(offer),
    provider: provider.account.address,
    price: a.price,
    collateral: a.collateral,
    expiry: t + 1300n,
    nonce: s.nonce,
    etaSeconds: 60,
  }
  const signature = await signBid(provider, {
    domain: { chainId: w.chain.chain.id, verifyingContract: w.deployment.addresses.jobMarket },
    bid,
  })
  if (a.lastSecond) await advancePast(w, Number(offer.deadline) - 10)
  const result = await award(requester, {
    jobMarket: w.deployment.addresses.jobMarket,
    offer,
    bid,
    signature,
  })
  const job: JobModel = { jobId: result.jobId, provider, price: a.price, collateral: a.collateral }
  s.jobs.push(job)
  if (a.lastSecond) throw new Error(`a last-second award went through (${result.hash})`)
  if (!a.cheater) await commitStep(w, job, 0)
  return result
}

/** The provider commits: the cheater forges `forged` leaves (from the last one down). */
export async function commitStep(w: World, job: JobModel, forged: number): Promise<WriteResult> {
  const leaves = Array.from({ length: LEAVES }, (_, i) =>
    i >= LEAVES - forged ? forgedLeaf(job.jobId, i) : trueLeaf(job.jobId, i),
  )
  const result = await commitResult(job.provider, {
    jobMarket: w.deployment.addresses.jobMarket,
    jobId: job.jobId,
    resultRoot: MerkleTree.fromDataHashes(leaves).root,
    leafCount: LEAVES,
  })
  job.leaves = leaves
  return result
}

async function sealedChallenge(
  w: World,
  s: RunState,
  job: JobModel,
  challenger: Wallet,
  leaf: number,
  claim: Hex,
): Promise<WriteResult> {
  const salt = freshSalt()
  const commitment = challengeCommitment({
    jobId: job.jobId,
    challenger: challenger.account.address,
    leafIndex: BigInt(leaf),
    claimedDataHash: claim,
    salt,
  })
  const result = await commitChallenge(challenger, { disputeCourt: w.court, jobId: job.jobId, commitment })
  s.disputes.push({ id: result.disputeId, job, challenger, leaf, claim, salt, copied: false })
  return result
}

export type Challenger = 'verifier' | 'puppet' | 'grieferPuppet' | 'copycat'

/**
 * The honest verifier challenges a forged leaf (none: nothing to do); the cheater's puppet and
 * the griefer's puppet challenge an honest leaf with a false claim; the copycat copies the
 * verifier's latest challenge on the job: its sealed commitment verbatim while unrevealed (the
 * commitment names the verifier, so the copy can never be revealed), the revealed leaf after.
 */
export async function challengeStep(
  w: World,
  s: RunState,
  job: JobModel,
  who: Challenger,
  pick: number,
): Promise<WriteResult | undefined> {
  if (job.leaves === undefined) return undefined
  const forged = job.leaves.map((_, i) => i).filter((i) => isForged(job, i))
  const honest = job.leaves.map((_, i) => i).filter((i) => !isForged(job, i))
  if (who === 'verifier') {
    const leaf = forged[pick % Math.max(1, forged.length)]
    return leaf === undefined
      ? undefined
      : sealedChallenge(w, s, job, w.verifier, leaf, trueLeaf(job.jobId, leaf))
  }
  if (who === 'puppet' || who === 'grieferPuppet') {
    const leaf = honest[pick % Math.max(1, honest.length)]
    if (leaf === undefined) return undefined
    return sealedChallenge(w, s, job, who === 'puppet' ? w.puppet : w.grieferPuppet, leaf, WRONG_CLAIM)
  }
  const original = s.disputes.filter((d) => d.job === job && d.challenger === w.verifier).at(-1)
  if (original === undefined) return undefined
  const state = await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: original.id })
  if (state.phase !== CourtPhase.committed) {
    return sealedChallenge(w, s, job, w.copycat, original.leaf, original.claim)
  }
  const commitment = state.commitment
  const result = await commitChallenge(w.copycat, { disputeCourt: w.court, jobId: job.jobId, commitment })
  s.disputes.push({ ...original, id: result.disputeId, challenger: w.copycat, copied: true })
  return result
}

/** Reveals a challenge; a verbatim copy's reveal must be refused (CommitmentMismatch). */
export async function revealStep(w: World, d: DisputeModel): Promise<WriteResult> {
  await w.test.mine({ blocks: 1 })
  const result = await revealChallenge(d.challenger, {
    disputeCourt: w.court,
    disputeId: d.id,
    leafIndex: BigInt(d.leaf),
    claimedDataHash: d.claim,
    salt: d.salt,
  })
  if (d.copied) throw new Error(`the copycat revealed a copied commitment (dispute ${d.id})`)
  return result
}

/**
 * The challenger concedes its own challenge (the conceding verifier whose withheld data turned
 * up, or a puppet or griefer giving up): it must lose exactly the concession fee copied at commit,
 * to the wei, and the treasury gain exactly that. The court refuses it once a jury is knowable.
 */
export async function concedeStep(w: World, d: DisputeModel): Promise<WriteResult> {
  const who = d.challenger.account.address
  const treasury = w.treasury.account.address
  const [before, treasuryBefore, state] = await Promise.all([
    wealth(w, who),
    wealth(w, treasury),
    getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.id }),
  ])
  const result = await concedeChallenge(d.challenger, { disputeCourt: w.court, disputeId: d.id })
  // the commit took the bond: the concession returns all of it but the fee
  const back = (await wealth(w, who)) - before
  const toTreasury = (await wealth(w, treasury)) - treasuryBefore
  if (back !== state.bond - state.concessionFee || toTreasury !== state.concessionFee) {
    throw new Error(
      `dispute ${d.id}: the concession returned ${back} and paid the treasury ${toTreasury} (bond ${state.bond}, fee ${state.concessionFee})`,
    )
  }
  return result
}

/** How a seated juror votes: the truth; the lazy one never reveals; the colluders acquit the cheater. */
function ballot(w: World, d: DisputeModel, jurorIndex: number): { choice: CourtVote; reveals: boolean } {
  const kind = jurorKind(jurorIndex)
  const truth = isForged(d.job, d.leaf) ? CourtVote.guilty : CourtVote.notGuilty
  if (kind === 'collude' && d.job.provider === w.cheater)
    return { choice: CourtVote.notGuilty, reveals: true }
  return { choice: truth, reveals: kind !== 'lazy' }
}

/** Draws the jury, lets every seat vote (sealed, then revealed), and rules after the deadlines. */
export async function juryStep(w: World, d: DisputeModel): Promise<WriteResult> {
  await w.test.mine({ blocks: 3 })
  await drawJury(w.admin, { disputeCourt: w.court, disputeId: d.id })
  if (
    (await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.id })).phase !== CourtPhase.voting
  ) {
    return ruleDispute(w.admin, { disputeCourt: w.court, disputeId: d.id })
  }
  const round = await getCourtRound(w.reader, { disputeCourt: w.court, disputeId: d.id })
  const seats = round.jurors.map((address) => {
    const i = w.jurors.findIndex((j) => j.account.address === address)
    return { wallet: w.jurors[i]!, salt: freshSalt(), ...ballot(w, d, i) }
  })
  for (const seat of seats) {
    const commitment = voteCommitment({
      disputeId: d.id,
      round: round.index,
      juror: seat.wallet.account.address,
      choice: seat.choice,
      salt: seat.salt,
    })
    await commitVote(seat.wallet, { disputeCourt: w.court, disputeId: d.id, commitment })
  }
  for (const seat of seats.filter((x) => x.reveals)) {
    await revealVote(seat.wallet, {
      disputeCourt: w.court,
      disputeId: d.id,
      choice: seat.choice,
      salt: seat.salt,
    })
  }
  if (seats.some((x) => !x.reveals)) await advancePast(w, round.revealEnds)
  return ruleDispute(w.admin, { disputeCourt: w.court, disputeId: d.id })
}

/** The losing side appeals: the provider a guilty ruling, the challenger an acquittal. */
export async function appealStep(w: World, d: DisputeModel): Promise<WriteResult> {
  const state = await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.id })
  const appellant = state.ruling === CourtRuling.guilty ? d.job.provider : d.challenger
  return appealDispute(appellant, { disputeCourt: w.court, disputeId: d.id })
}

/** After the deadline that applies (`wait`), executes a ruled dispute or expires an unrevealed one. */
export async function closeDisputeStep(w: World, d: DisputeModel, wait: boolean): Promise<WriteResult> {
  const state = await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.id })
  if (state.phase === CourtPhase.committed) {
    if (wait) await advancePast(w, state.revealEnds)
    return expireChallenge(w.admin, { disputeCourt: w.court, disputeId: d.id })
  }
  if (wait) await advancePast(w, state.appealEnds)
  return executeDispute(w.admin, { disputeCourt: w.court, disputeId: d.id })
}

/** Ends a job after its deadline or window: the no-show expires, the committed job is paid. */
export async function closeJobStep(w: World, job: JobModel, wait: boolean): Promise<WriteResult | undefined> {
  const jobMarket = w.deployment.addresses.jobMarket
  const state = await getJob(w.reader, { jobMarket, jobId: job.jobId })
  if (state.status === 'awarded') {
    if (wait) await advancePast(w, state.deadline)
    return expire(w.admin, { jobMarket, jobId: job.jobId })
  }
  if (state.status !== 'committed') return undefined
  if (wait) await advancePast(w, state.challengeEnds)
  return finalize(w.admin, { jobMarket, jobId: job.jobId })
}

export async function unbondStep(w: World, who: Wallet, amount: bigint): Promise<WriteResult> {
  return requestUnbonding(who, { stakeManager: w.deployment.addresses.stakeManager, amount })
}

export async function withdrawStep(w: World, who: Wallet): Promise<WriteResult> {
  return withdrawStake(who, { stakeManager: w.deployment.addresses.stakeManager })
}

export async function sweepStep(w: World): Promise<WriteResult> {
  return sweepTreasury(w.admin, { jobMarket: w.deployment.addresses.jobMarket })
}
