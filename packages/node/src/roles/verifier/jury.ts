/**
 * Jury duty. At start the verifier locks its configured juror stake (verifier.jurorStake, 0:
 * the court's jurorMinStake) into the DisputeCourt's pool, or says clearly why it cannot. When
 * a JuryDrawn event seats it, it judges the disputed leaf (jury-verdict.ts), writes its vote
 * and a random salt to the job record BEFORE the commit transaction, commits the sealed vote,
 * and reveals it once the commit phase is over and before the reveal deadline. The record
 * lets a restarted juror reveal what it committed (its commit's hash, written as it is sent,
 * lets it wait for a commit still in flight rather than send it twice); a seat whose vote was
 * never written (killed while judging) is found again from the chain by the keeper's pass.
 */
import {
  CourtPhase,
  type CourtVote,
  commitVote,
  disputeCourtAbi,
  getCourtDispute,
  getCourtParams,
  getCourtRound,
  getJuror,
  getStake,
  joinJury,
  revealVote,
  voteCommitment,
} from '@ocn/contracts-client'
import { formatEther, type Hex } from 'viem'
import { readContract } from 'viem/actions'
import { type JurorVoteRecord, verifierDetail } from '../../state/job-detail.js'
import type { JobRecord } from '../../state/records.js'
import { findAwardedJob } from '../shared.js'
import { randomSalt } from './challenge.js'
import type { VerifierContext } from './context.js'
import { juryVerdict } from './jury-verdict.js'
import { sentTxOutcome } from './sent-tx.js'
import { recordJob } from './watch.js'

const REVEAL_POLL_MS = 1_000

/** Joins (or tops up) the juror pool; false with a logged reason when it cannot. */
export async function joinJuryPool(ctx: VerifierContext): Promise<boolean> {
  const { chain } = ctx.components
  const disputeCourt = ctx.court()
  const me = chain.address
  const params = await getCourtParams(chain.client, { disputeCourt })
  const wanted = ctx.options.jurorStake > 0n ? ctx.options.jurorStake : params.jurorMinStake
  const juror = await getJuror(chain.client, { disputeCourt, juror: me })
  if (juror.stake >= wanted) return true
  const need = wanted - juror.stake
  const { free } = await getStake(chain.client, {
    stakeManager: chain.deployment.addresses.stakeManager,
    account: me,
  })
  if (free < need || wanted < params.jurorMinStake) {
    ctx.log.warn(
      { free: formatEther(free), need: formatEther(need), jurorMinStake: formatEther(params.jurorMinStake) },
      'not joining the jury pool: free stake too short (stake more OPEN, or set verifier.jurorStake to at least the court minimum and at most the free stake)',
    )
    return false
  }
  await chain.serialize(() => joinJury(chain.client, { disputeCourt, amount: need }))
  ctx.log.info({ stake: formatEther(wanted) }, 'joined the jury pool')
  return true
}

/** The verifier's record of the disputed job, made from its award when it has none yet. */
async function seatRecord(ctx: VerifierContext, jobId: Hex): Promise<JobRecord | undefined> {
  const existing = await ctx.components.state.getJob(jobId)
  if (existing !== undefined) return existing.role === 'verifier' ? existing : undefined
  const award = await findAwardedJob(ctx.components.chain, jobId)
  if (award === undefined) return undefined
  return recordJob(ctx, award, award.blockNumber)
}

async function saveVote(ctx: VerifierContext, jobId: Hex, vote: JurorVoteRecord): Promise<void> {
  const { state } = ctx.components
  const detail = verifierDetail(await state.requireJob(jobId))
  const others = (detail.votes ?? []).filter((v) => v.disputeId !== vote.disputeId || v.round !== vote.round)
  await state.updateJob(jobId, { detail: { ...detail, votes: [...others, vote] } })
}

/** Serves this node's seat in round `round` of dispute `disputeId`: judge, commit, reveal. */
export async function serveSeat(ctx: VerifierContext, disputeId: bigint, round: bigint): Promise<void> {
  const { chain } = ctx.components
  const disputeCourt = ctx.court()
  const dispute = await getCourtDispute(chain.client, { disputeCourt, disputeId })
  const jobId = dispute.jobId
  const job = await seatRecord(ctx, jobId)
  if (job === undefined) {
    ctx.log.warn({ jobId, disputeId }, 'seated on a job whose award this node cannot find: no vote')
    return
  }
  const r = await getCourtRound(chain.client, { disputeCourt, disputeId, round })
  let vote = verifierDetail(job).votes?.find((v) => v.disputeId === disputeId && v.round === round)
  // a seat whose round is over (ruled, or past its deadlines) is closed for good, never retried
  const now = await chain.chainTime()
  const committable = dispute.phase === CourtPhase.voting && now <= BigInt(r.commitEnds)
  if (
    dispute.phase !== CourtPhase.voting ||
    now > BigInt(r.revealEnds) ||
    (!committable && vote?.committed !== true)
  ) {
    if (vote !== undefined && vote.revealed === undefined) {
      await saveVote(ctx, jobId, {
        ...vote,
        revealed: false,
        reason: `${vote.reason}; the round ended first`,
      })
    }
    return
  }
  if (vote === undefined) {
    const verdict = await juryVerdict(ctx, {
      jobId,
      award: verifierDetail(job).award,
      leafIndex: dispute.leafIndex,
      commitEnds: BigInt(r.commitEnds),
      knownPeer: verifierDetail(job).providerPeer,
    })
    if (verdict === undefined) {
      // abstained (juryVerdict says why): recorded, so that the seat is not judged again
      const reason = 'abstained: this juror could not judge the leaf itself'
      await saveVote(ctx, jobId, { disputeId, round, choice: 0, salt: randomSalt(), reason, revealed: false })
      return
    }
    vote = { disputeId, round, choice: verdict.choice, salt: randomSalt(), reason: verdict.reason }
    await saveVote(ctx, jobId, vote)
  }
  if (vote.committed !== true) vote = await commitSeat(ctx, jobId, vote)
  // a commit still in flight (sent before a restart) is waited for on the next tick
  if (vote.committed === true && vote.revealed !== true) await revealSeat(ctx, jobId, vote)
}

/**
 * Commits the sealed vote unless the chain has it already. A commit sent before a restart (its
 * hash on the record) is waited for first: the vote comes back uncommitted while it is pending.
 */
async function commitSeat(ctx: VerifierContext, jobId: Hex, vote: JurorVoteRecord): Promise<JurorVoteRecord> {
  const { chain } = ctx.components
  const disputeCourt = ctx.court()
  const committedOnChain = async () => {
    const onChain = await readContract(chain.client, {
      address: disputeCourt,
      abi: disputeCourtAbi,
      functionName: 'getVote',
      args: [vote.disputeId, vote.round, chain.address],
    })
    return !/^0x0*$/.test(onChain.commitment)
  }
  let committed = await committedOnChain()
  if (!committed && vote.commitTx !== undefined) {
    if ((await sentTxOutcome(chain.client, 'vote', vote.commitTx)) === 'pending') return vote
    committed = await committedOnChain()
  }
  if (!committed) {
    const commitment = voteCommitment({
      disputeId: vote.disputeId,
      round: vote.round,
      juror: chain.address,
      choice: vote.choice as CourtVote,
      salt: vote.salt,
    })
    await chain.serialize(() =>
      commitVote(chain.client, {
        disputeCourt,
        disputeId: vote.disputeId,
        commitment,
        onSent: (txHash) => saveVote(ctx, jobId, { ...vote, commitTx: txHash }),
      }),
    )
    ctx.metrics.juryVotes.inc({ choice: vote.choice === 1 ? 'guilty' : 'not-guilty' })
    ctx.log.info(
      { jobId, disputeId: vote.disputeId, choice: vote.choice, reason: vote.reason },
      'juror committed its vote',
    )
  }
  const done = { ...vote, committed: true }
  await saveVote(ctx, jobId, done)
  return done
}

/** Waits until the round's reveal phase opens, then reveals (unless its deadline passed). */
async function revealSeat(ctx: VerifierContext, jobId: Hex, vote: JurorVoteRecord): Promise<void> {
  const { chain } = ctx.components
  const disputeCourt = ctx.court()
  for (;;) {
    const dispute = await getCourtDispute(chain.client, { disputeCourt, disputeId: vote.disputeId })
    const r = await getCourtRound(chain.client, {
      disputeCourt,
      disputeId: vote.disputeId,
      round: vote.round,
    })
    const now = await chain.chainTime()
    if (dispute.phase !== CourtPhase.voting || now > BigInt(r.revealEnds)) {
      ctx.log.error(
        { jobId, disputeId: vote.disputeId },
        'the vote reveal deadline passed before this juror revealed',
      )
      await saveVote(ctx, jobId, { ...vote, revealed: false, reason: `${vote.reason}; not revealed in time` })
      return
    }
    if (now > BigInt(r.commitEnds) || r.committed >= r.jurors.length) break
    await ctx.pause(REVEAL_POLL_MS)
  }
  await chain.serialize(() =>
    revealVote(chain.client, {
      disputeCourt,
      disputeId: vote.disputeId,
      choice: vote.choice as CourtVote,
      salt: vote.salt,
    }),
  )
  await saveVote(ctx, jobId, { ...vote, revealed: true })
  ctx.log.info({ jobId, disputeId: vote.disputeId, choice: vote.choice }, 'juror revealed its vote')
}

/** Seats whose vote is committed but not revealed yet (a restart resumes them). */
export function pendingSeats(job: JobRecord): JurorVoteRecord[] {
  if (job.role !== 'verifier') return []
  return (verifierDetail(job).votes ?? []).filter((v) => v.revealed === undefined)
}
