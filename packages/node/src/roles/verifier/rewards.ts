/**
 * What the protocol pays this verifier, written on the job's record as its events come: the
 * reward of an upheld challenge (`ProviderConvicted` naming it the challenger) and a juror's
 * share or penalty (`JurorPaid`, `JurorPenalized` naming it). The API sums them for the
 * console's verifier view. The event feed delivers at least once, so each payment is keyed by
 * its log's position and recorded once.
 */
import type { ProtocolEvent } from '@ocn/contracts-client'
import { type VerifierRewardRecord, verifierDetail } from '../../state/job-detail.js'
import type { JobRecord } from '../../state/records.js'
import type { VerifierContext } from './context.js'

type RewardContext = Pick<VerifierContext, 'components' | 'me'>

/** The verifier's record of the job whose dispute `disputeId` this node sat on or brought. */
async function jobOfDispute(ctx: RewardContext, disputeId: bigint): Promise<JobRecord | undefined> {
  for (const job of await ctx.components.state.listJobs({ role: 'verifier' })) {
    const detail = verifierDetail(job)
    if (detail.challenge?.disputeId === disputeId) return job
    if ((detail.votes ?? []).some((vote) => vote.disputeId === disputeId)) return job
  }
  return undefined
}

async function record(ctx: RewardContext, job: JobRecord, reward: VerifierRewardRecord): Promise<void> {
  const detail = verifierDetail(job)
  const rewards = detail.rewards ?? []
  const same = (r: VerifierRewardRecord) =>
    r.blockNumber === reward.blockNumber && r.logIndex === reward.logIndex
  if (rewards.some(same)) return
  await ctx.components.state.updateJob(job.id, { detail: { ...detail, rewards: [...rewards, reward] } })
}

function position(event: ProtocolEvent): Pick<VerifierRewardRecord, 'blockNumber' | 'logIndex' | 'txHash'> {
  return {
    blockNumber: event.blockNumber,
    logIndex: event.logIndex,
    ...(event.transactionHash === null ? {} : { txHash: event.transactionHash }),
  }
}

/** Records each payment to (or penalty of) this verifier among `events`. */
export async function onRewardEvents(ctx: RewardContext, events: ProtocolEvent[]): Promise<void> {
  for (const event of events) {
    if (event.eventName === 'ProviderConvicted') {
      if (event.args.challenger.toLowerCase() !== ctx.me) continue
      const job = await ctx.components.state.getJob(event.args.jobId)
      if (job?.role !== 'verifier') continue
      const disputeId = verifierDetail(job).challenge?.disputeId
      await record(ctx, job, {
        kind: 'challenger',
        amount: event.args.challengerReward,
        ...(disputeId === undefined ? {} : { disputeId }),
        ...position(event),
      })
    } else if (event.eventName === 'JurorPaid' || event.eventName === 'JurorPenalized') {
      if (event.args.juror.toLowerCase() !== ctx.me) continue
      const job = await jobOfDispute(ctx, event.args.disputeId)
      if (job === undefined) continue
      const kind = event.eventName === 'JurorPaid' ? 'juror' : 'juror-penalty'
      await record(ctx, job, {
        kind,
        amount: event.args.amount,
        disputeId: event.args.disputeId,
        ...position(event),
      })
    }
  }
}
