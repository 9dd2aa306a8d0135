// The dispute game of one job, every step through the real DisputeCourt: sealed challenges
// (with a copycat that front-runs them from the mempool), reveals, jury draws, sealed votes,
// rulings, appeals, and execution once every appeal period is over.
import {
  appealDispute,
  CourtPhase,
  CourtRuling,
  CourtVote,
  challengeCommitment,
  commitChallenge,
  commitVote,
  disputeCourtAbi,
  drawJury,
  executeDispute,
  expireChallenge,
  getCourtDispute,
  getCourtRound,
  revealChallenge,
  revealVote,
  ruleDispute,
  voteCommitment,
} from '@ocn/contracts-client'
import { keccak256, parseEventLogs, toHex } from 'viem'
import { isForged, refusal } from './job.mjs'
import { advance, GAS, now } from './world.mjs'

let saltCounter = 0
const freshSalt = () => keccak256(toHex(`economics salt ${++saltCounter}`))

function sealed(job, challenger, leaf, claim) {
  const salt = freshSalt()
  const commitment = challengeCommitment({
    jobId: job.jobId,
    challenger: challenger.account.address,
    leafIndex: BigInt(leaf),
    claimedDataHash: claim,
    salt,
  })
  return { challenger, leaf, claim, salt, commitment, revealed: false }
}

/** Commits a sealed challenge of `leaf` claiming `claim`; returns the dispute to reveal later. */
export async function challengeLeaf(w, job, challenger, leaf, claim) {
  const c = sealed(job, challenger, leaf, claim)
  const { disputeId } = await commitChallenge(challenger, {
    disputeCourt: w.court,
    jobId: job.jobId,
    commitment: c.commitment,
    gas: GAS,
  })
  return { ...c, disputeId }
}

/**
 * As `challengeLeaf`, with a copycat watching the mempool: the block is held open while the
 * honest transaction waits in the pool, the copycat sends the same call with a higher fee, and
 * the block is mined with both (anvil orders a block by fee). Returns the honest dispute and the
 * copycat's, which holds a commitment that names the honest challenger.
 */
export async function challengeFrontRun(w, job, challenger, leaf, claim, copycat) {
  const c = sealed(job, challenger, leaf, claim)
  w.holdBlocks = true
  await w.test.setAutomine(false)
  let hashes
  try {
    const honest = await challenger.writeContract({
      address: w.court,
      abi: disputeCourtAbi,
      functionName: 'commitChallenge',
      args: [job.jobId, c.commitment],
      gas: GAS,
    })
    const seen = await w.reader.getTransaction({ hash: honest })
    const copied = await copycat.sendTransaction({
      to: seen.to,
      data: seen.input,
      gas: seen.gas,
      maxFeePerGas: seen.maxFeePerGas * 2n,
      maxPriorityFeePerGas: seen.maxPriorityFeePerGas * 2n + 1n,
    })
    hashes = [honest, copied]
    await w.test.mine({ blocks: 1 })
  } finally {
    await w.test.setAutomine(true)
    w.holdBlocks = false
  }
  const [mine, copy] = await Promise.all(
    hashes.map(async (hash) => {
      const receipt = await w.reader.waitForTransactionReceipt({ hash, timeout: 10_000 })
      const [event] = parseEventLogs({
        abi: disputeCourtAbi,
        eventName: 'ChallengeCommitted',
        logs: receipt.logs,
      })
      if (receipt.status !== 'success' || event === undefined)
        throw new Error(`commitChallenge ${hash} failed`)
      return event.args.disputeId
    }),
  )
  const stolen = { ...c, challenger: copycat, disputeId: copy, copiedFrom: mine }
  return { honest: { ...c, disputeId: mine }, stolen, frontRan: copy < mine }
}

/** Reveals a committed challenge (a block after its commitment). */
export async function reveal(w, d) {
  await revealChallenge(d.challenger, {
    disputeCourt: w.court,
    disputeId: d.disputeId,
    leafIndex: BigInt(d.leaf),
    claimedDataHash: d.claim,
    salt: d.salt,
    gas: GAS,
  })
  d.revealed = true
}

/** The copycat tries to reveal the commitment it copied, with the honest challenger's opening. */
export async function revealCopy(w, stolen) {
  return refusal(() =>
    revealChallenge(stolen.challenger, {
      disputeCourt: w.court,
      disputeId: stolen.disputeId,
      leafIndex: BigInt(stolen.leaf),
      claimedDataHash: stolen.claim,
      salt: stolen.salt,
    }),
  )
}

/**
 * What a seated juror does: `vote` (the truth), `lazy` (commits, never reveals), `collude`
 * (acquits, where the colluders hold a majority of this round's seats; the seats are public
 * once drawn, so a rational group that cannot carry the round votes the truth and keeps its
 * stake instead of paying the penalty for a lost cause).
 */
function ballot(kind, guilty, colludersRule) {
  if (kind === 'collude' && colludersRule) return { choice: CourtVote.notGuilty, reveals: true }
  const choice = guilty ? CourtVote.guilty : CourtVote.notGuilty
  return { choice, reveals: kind !== 'lazy' }
}

/** One round: sealed votes from every seat, reveals, then the ruling (after the deadline if someone is silent). */
async function voteRound(w, ctx, d, guilty) {
  const id = d.disputeId
  const round = await getCourtRound(w.reader, { disputeCourt: w.court, disputeId: id })
  const colluders = round.jurors.filter((address) => ctx.jurorKind(address) === 'collude').length
  const colludersRule = colluders * 2 > round.jurors.length
  const seats = round.jurors.map((address) => {
    const wallet = ctx.walletOf(address)
    const b = ballot(ctx.jurorKind(address), guilty, colludersRule)
    ctx.stats.seats.set(address, (ctx.stats.seats.get(address) ?? 0) + 1)
    return { wallet, ...b, salt: freshSalt() }
  })
  // one after another: with the votes sent at once, a receipt once stayed unconfirmed until
  // viem's timeout (parallelism comes from running strategies on several chains instead)
  for (const s of seats) {
    const commitment = voteCommitment({
      disputeId: id,
      round: round.index,
      juror: s.wallet.account.address,
      choice: s.choice,
      salt: s.salt,
    })
    await commitVote(s.wallet, { disputeCourt: w.court, disputeId: id, commitment, gas: GAS })
  }
  const revealing = seats.filter((s) => s.reveals)
  for (const s of revealing) {
    await revealVote(s.wallet, {
      disputeCourt: w.court,
      disputeId: id,
      choice: s.choice,
      salt: s.salt,
      gas: GAS,
    })
  }
  if (revealing.length < seats.length) await advance(w, round.revealEnds - Number(await now(w)) + 1)
  await ruleDispute(w.admin, { disputeCourt: w.court, disputeId: id, gas: GAS })
}

/**
 * Takes a revealed dispute to its final ruling: draws, votes, redraws after a tie, and appeals
 * by the losing side when it wants one (`ctx.appeals`). Leaves the last appeal period running.
 */
export async function judge(w, ctx, job, d) {
  const guilty = isForged(job, d.leaf)
  const id = d.disputeId
  for (let step = 0; step < 8; step++) {
    await w.test.mine({ blocks: w.courtParams.drawDelay + 1 })
    await drawJury(w.admin, { disputeCourt: w.court, disputeId: id, gas: GAS })
    let state = await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: id })
    if (state.phase === CourtPhase.voting) {
      await voteRound(w, ctx, d, guilty)
      state = await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: id })
    }
    if (state.phase === CourtPhase.awaitingDraw) continue // a tie: redrawn
    if (state.isFinal || state.rounds >= state.maxRounds) return state
    const appellant = ctx.appellant(d, state.ruling, guilty)
    if (appellant === undefined) return state
    await appealDispute(appellant, { disputeCourt: w.court, disputeId: id, gas: GAS })
    ctx.stats.appeals += 1
  }
  throw new Error(`dispute ${id} did not reach a ruling`)
}

/**
 * Ends every dispute of the job after its deadlines: unrevealed challenges expire, ruled ones
 * are executed in commit order (a guilty ruling waits for the earlier disputes). Returns the
 * receipts' logs.
 */
export async function settleDisputes(w, disputes) {
  const states = await Promise.all(
    disputes.map((d) => getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.disputeId })),
  )
  const latest = states.reduce((t, s) => Math.max(t, s.revealEnds, s.appealEnds), 0)
  const wait = latest - Number(await now(w)) + 1
  if (wait > 0) await advance(w, wait)
  const logs = []
  const ordered = disputes
    .map((d, i) => ({ d, s: states[i] }))
    .sort((a, b) => Number(a.d.disputeId - b.d.disputeId))
  for (const { d, s } of ordered) {
    const call = s.phase === CourtPhase.committed ? expireChallenge : executeDispute
    const result = await call(w.admin, { disputeCourt: w.court, disputeId: d.disputeId, gas: GAS })
    logs.push(...result.receipt.logs)
    d.finalRuling = s.phase === CourtPhase.committed ? CourtRuling.none : s.ruling
  }
  return logs
}
