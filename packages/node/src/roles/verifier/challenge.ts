/**
 * Challenging a result through the DisputeCourt, sealed so that nobody can copy it: the
 * verifier draws a random salt and writes it to the job record BEFORE the commit transaction
 * (a crash never leaves a commitment this node cannot open), commits
 * challengeCommitment(jobId, me, leaf, replayed, salt) with the bond, writes the commit's hash
 * the moment it is sent, waits for a later block, and reveals. Each step is idempotent and
 * driven again by the role's ticks (and first thing at start), so a restarted node finds its
 * commitment on the chain and reveals it, waits for a commit still in flight instead of
 * committing (and paying the bond) twice, or records that it let the challenge expire.
 * A challenge on a leaf not served is conceded (`concedeChallenge`, the concession intent on
 * the record first) when the provider comes back before the reveal and serves the leaf.
 */
import {
  approveToken,
  type CourtDispute,
  CourtPhase,
  challengeCommitment,
  commitChallenge,
  concedeChallenge,
  getCourtDispute,
  getCourtParams,
  getJob,
  getJobDisputes,
  revealChallenge,
} from '@ocn/contracts-client'
import { bytesToHex, type Hex } from 'viem'
import { type CourtChallengeRecord, verifierDetail } from '../../state/job-detail.js'
import type { CourtContext } from './context.js'
import { sentTxOutcome } from './sent-tx.js'

/** A leaf the provider got wrong (or would not serve) and this verifier's replay of it. */
export interface ChallengeEvidence {
  index: number
  replayed: Hex
  /** the provider did not serve the leaf at all (see CourtChallengeRecord.unserved) */
  unserved?: boolean
}

/**
 * Asks the provider again for the challenged leaf: `answered` when it now serves it proven
 * against its root and it does not contradict this verifier's replay (the challenge would be
 * ruled false), `differs` when the served leaf is not the replayed one, `unserved` otherwise.
 */
export type Recheck = (challenge: CourtChallengeRecord) => Promise<'answered' | 'differs' | 'unserved'>

/** Seconds before the reveal deadline that an unserved challenge stops waiting and reveals. */
export const REVEAL_MARGIN_SECONDS = 4n
/** How often a challenge on a leaf not served asks the provider again before its reveal. */
const RECHECK_MS = 2_000

/** How often the challenger looks for the block after its commitment. */
const BLOCK_POLL_MS = 500

export function randomSalt(): Hex {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(32)))
}

/**
 * The record of a sealed challenge of `evidence` with a fresh salt: everything the commit and
 * the reveal need, written to the job record before anything is sent (then advanceChallenge).
 */
export function sealedChallenge(evidence: ChallengeEvidence): CourtChallengeRecord {
  const { index, replayed, unserved } = evidence
  return { index, replayed, salt: randomSalt(), ...(unserved === true ? { unserved } : {}) }
}

/** True while this verifier's challenge of the job still needs a commit or a reveal. */
export function challengePending(challenge: CourtChallengeRecord | undefined): boolean {
  return challenge !== undefined && challenge.revealed !== true && challenge.abandoned === undefined
}

/**
 * Moves this verifier's challenge one step on: commits it when the chain has no such
 * commitment yet, then reveals it in a later block, or records why it was given up.
 */
export async function advanceChallenge(ctx: CourtContext, jobId: Hex, recheck?: Recheck): Promise<void> {
  const challenge = verifierDetail(await ctx.components.state.requireJob(jobId)).challenge
  if (challenge === undefined || !challengePending(challenge)) return
  let disputeId = challenge.disputeId ?? (await findOwnDispute(ctx, jobId, challenge))
  if (disputeId === undefined && challenge.commitTx !== undefined) {
    // sent before a crash and not found: still in flight, or lost
    const sent = await sentTxOutcome(ctx.components.chain.client, 'challenge', challenge.commitTx)
    if (sent === 'pending') {
      ctx.log.info({ jobId, tx: challenge.commitTx }, 'challenge commit still pending; waiting for it')
      return
    }
    disputeId = await findOwnDispute(ctx, jobId, challenge)
    if (disputeId === undefined) await patchChallenge(ctx, jobId, {}, 'commitTx')
  }
  if (disputeId === undefined) {
    const committed = await commitSealed(ctx, jobId, challenge)
    if (committed !== undefined) await revealSealed(ctx, jobId, committed, recheck)
    return
  }
  if (challenge.disputeId === undefined) await patchChallenge(ctx, jobId, { disputeId })
  await revealSealed(ctx, jobId, disputeId, recheck)
}

/** Updates the challenge record with `patch`, dropping the field `drop` (a lost commit's hash). */
async function patchChallenge(
  ctx: CourtContext,
  jobId: Hex,
  patch: Partial<CourtChallengeRecord>,
  drop?: 'commitTx',
): Promise<void> {
  const { state } = ctx.components
  const detail = verifierDetail(await state.requireJob(jobId))
  if (detail.challenge === undefined) return
  const challenge = { ...detail.challenge, ...patch }
  if (drop !== undefined) delete challenge[drop]
  await state.updateJob(jobId, { detail: { ...detail, challenge } })
}

function commitmentOf(ctx: CourtContext, jobId: Hex, c: CourtChallengeRecord): Hex {
  return challengeCommitment({
    jobId,
    challenger: ctx.components.chain.address,
    leafIndex: BigInt(c.index),
    claimedDataHash: c.replayed,
    salt: c.salt,
  })
}

/** This node's commitment among the job's disputes (a commit mined before a crash). */
async function findOwnDispute(
  ctx: CourtContext,
  jobId: Hex,
  c: CourtChallengeRecord,
): Promise<bigint | undefined> {
  const { client } = ctx.components.chain
  const court = ctx.court()
  const sealed = commitmentOf(ctx, jobId, c).toLowerCase()
  for (const disputeId of await getJobDisputes(client, { disputeCourt: court, jobId })) {
    const d = await getCourtDispute(client, { disputeCourt: court, disputeId })
    if (d.challenger.toLowerCase() !== ctx.me) continue
    const opened =
      d.phase !== CourtPhase.committed && d.claimedDataHash.toLowerCase() === c.replayed.toLowerCase()
    if (d.commitment.toLowerCase() === sealed || (opened && d.leafIndex === c.index)) return disputeId
  }
  return undefined
}

/** Commits the sealed challenge with its bond; undefined (and given up) once the window closed. */
async function commitSealed(
  ctx: CourtContext,
  jobId: Hex,
  c: CourtChallengeRecord,
): Promise<bigint | undefined> {
  const { chain, state } = ctx.components
  const onChain = await getJob(chain.client, { jobMarket: ctx.market(), jobId })
  if (onChain.status !== 'committed' || (await chain.chainTime()) >= BigInt(onChain.challengeEnds)) {
    await patchChallenge(ctx, jobId, {
      abandoned: `not committed: the job is ${onChain.status}, its window over`,
    })
    ctx.log.warn({ jobId, leaf: c.index }, 'challenge not committed: the challenge window closed first')
    return undefined
  }
  const court = ctx.court()
  const { disputeId, hash } = await chain.serialize(async () => {
    const { challengeBond } = await getCourtParams(chain.client, { disputeCourt: court })
    await approveToken(chain.client, {
      token: chain.deployment.addresses.token,
      spender: court,
      amount: challengeBond,
    })
    return commitChallenge(chain.client, {
      disputeCourt: court,
      jobId,
      commitment: commitmentOf(ctx, jobId, c),
      // durable before the receipt: a node killed now waits for this commit when it restarts
      onSent: (txHash) => patchChallenge(ctx, jobId, { commitTx: txHash }),
    })
  })
  await patchChallenge(ctx, jobId, { disputeId })
  const job = await state.requireJob(jobId)
  if (job.state === 'committed') {
    await state.transitionJob(jobId, 'challenged', {
      txHash: hash,
      note: `sealed challenge of leaf ${c.index}`,
    })
  }
  ctx.metrics.challenges.inc()
  ctx.log.warn({ jobId, leaf: c.index, disputeId }, 'committed a sealed challenge of a faked result')
  return disputeId
}

/**
 * Reveals the committed challenge in a block after the commitment and before the reveal
 * deadline; past the deadline the challenge is recorded as given up (its bond is the
 * treasury's once anyone expires it).
 */
async function revealSealed(
  ctx: CourtContext,
  jobId: Hex,
  disputeId: bigint,
  recheck: Recheck | undefined,
): Promise<void> {
  const { chain, state } = ctx.components
  const court = ctx.court()
  const dispute = await getCourtDispute(chain.client, { disputeCourt: court, disputeId })
  const sealed = verifierDetail(await state.requireJob(jobId)).challenge
  if (sealed?.concede !== undefined) return resumeConcession(ctx, jobId, disputeId, dispute, sealed.concede)
  if (dispute.phase !== CourtPhase.committed) {
    await patchChallenge(ctx, jobId, { revealed: true })
    return
  }
  if (sealed?.unserved === true && recheck !== undefined) {
    if ((await providerAnswers(ctx, sealed, BigInt(dispute.revealEnds), recheck)) === 'answered') {
      return concedeSealed(ctx, jobId, disputeId, 'the provider served the leaf before the reveal')
    }
  }
  while ((await chain.blockNumber()) <= dispute.commitBlock) {
    if ((await chain.chainTime()) > BigInt(dispute.revealEnds)) break
    await ctx.pause(BLOCK_POLL_MS)
  }
  if ((await chain.chainTime()) > BigInt(dispute.revealEnds)) {
    await patchChallenge(ctx, jobId, { abandoned: 'the reveal deadline passed; the bond is forfeited' })
    ctx.log.error(
      { jobId, disputeId },
      'challenge not revealed in time; it expires and its bond goes to the treasury',
    )
    return
  }
  const c = verifierDetail(await state.requireJob(jobId)).challenge
  if (c === undefined) return
  await chain.serialize(() =>
    revealChallenge(chain.client, {
      disputeCourt: court,
      disputeId,
      leafIndex: BigInt(c.index),
      claimedDataHash: c.replayed,
      salt: c.salt,
    }),
  )
  await patchChallenge(ctx, jobId, { revealed: true })
  ctx.log.warn({ jobId, disputeId, leaf: c.index }, 'revealed the challenge; a jury will be drawn')
}

/**
 * For a challenge on a leaf not served: asks the provider again until shortly before the
 * reveal deadline. A provider back from a restart that now serves the leaf would have the
 * challenge ruled false (bond and falseChallengeSlashBps of the stake at risk lost); left
 * unrevealed it costs the bond only.
 */
async function providerAnswers(
  ctx: CourtContext,
  c: CourtChallengeRecord,
  revealEnds: bigint,
  recheck: Recheck,
): Promise<'answered' | 'differs' | 'unserved'> {
  for (;;) {
    const answer = await recheck(c).catch((err: unknown) => {
      ctx.log.debug({ err }, 'asking the provider again failed')
      return 'unserved' as const
    })
    if (answer !== 'unserved') return answer
    if ((await ctx.components.chain.chainTime()) >= revealEnds - REVEAL_MARGIN_SECONDS) return answer
    await ctx.pause(RECHECK_MS)
  }
}

/**
 * Concedes this node's sealed challenge: the intent goes on the record before the transaction
 * is sent and its hash the moment it is sent, so a restart finishes the concession instead of
 * revealing a challenge the jurors would rule false. Costs the court's `concessionFee` (to the
 * treasury) instead of the bond and `falseChallengeSlashBps` of the stake at risk.
 */
async function concedeSealed(
  ctx: CourtContext,
  jobId: Hex,
  disputeId: bigint,
  reason: string,
): Promise<void> {
  const { chain } = ctx.components
  await patchChallenge(ctx, jobId, { concede: { reason } })
  try {
    await chain.serialize(() =>
      concedeChallenge(chain.client, {
        disputeCourt: ctx.court(),
        disputeId,
        onSent: (tx) => patchChallenge(ctx, jobId, { concede: { reason, tx } }),
      }),
    )
  } catch (err) {
    // the intent stays: the next tick asks the chain what became of it (resumeConcession)
    ctx.log.warn({ jobId, disputeId, err }, 'concession not sent; the next tick tries again')
    return
  }
  await patchChallenge(ctx, jobId, { abandoned: `conceded: ${reason}` })
  ctx.log.warn(
    { jobId, disputeId },
    'provider served the leaf before the jury: challenge conceded (concession fee paid, rest of the bond back)',
  )
}

/** After a restart (or a failed send) with the concession intent on the record. */
async function resumeConcession(
  ctx: CourtContext,
  jobId: Hex,
  disputeId: bigint,
  dispute: CourtDispute,
  concede: NonNullable<CourtChallengeRecord['concede']>,
): Promise<void> {
  const { chain } = ctx.components
  if (dispute.phase === CourtPhase.closed) {
    // with a hash on the record this node's concession landed; without one a keeper closed it
    // (expired past the reveal deadline: the bond is forfeited)
    const how = concede.tx === undefined ? 'closed before the concession was sent' : 'conceded'
    await patchChallenge(ctx, jobId, { abandoned: `${how}: ${concede.reason}` })
    return
  }
  if (concede.tx !== undefined) {
    const sent = await sentTxOutcome(chain.client, 'challenge', concede.tx)
    if (sent === 'pending') return
    if (sent === 'landed') {
      await patchChallenge(ctx, jobId, { abandoned: `conceded: ${concede.reason}` })
      return
    }
  }
  if (dispute.phase === CourtPhase.committed && (await chain.chainTime()) <= BigInt(dispute.revealEnds)) {
    return concedeSealed(ctx, jobId, disputeId, concede.reason)
  }
  await patchChallenge(ctx, jobId, {
    abandoned: 'the concession came too late (reveal deadline passed or jury knowable)',
  })
}

/**
 * Whether another challenger has an open dispute on the job. A verifier that cannot reach the
 * provider waits for a while rather than pile on (check.ts), but never gives up its own
 * challenge for it: a sealed challenge can be conceded, after the window too, so a withholding
 * provider's sock puppet could hold every honest verifier back and then withdraw.
 */
export async function disputedByOthers(ctx: CourtContext, jobId: Hex): Promise<boolean> {
  const { client } = ctx.components.chain
  const court = ctx.court()
  for (const disputeId of await getJobDisputes(client, { disputeCourt: court, jobId })) {
    const d = await getCourtDispute(client, { disputeCourt: court, disputeId })
    if (d.challenger.toLowerCase() !== ctx.me && d.phase !== CourtPhase.closed) return true
  }
  return false
}
