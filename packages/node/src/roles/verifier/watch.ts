/**
 * What the verifier watches: awards of other parties' jobs are recorded as they happen, a
 * result commitment makes a job due for checking, and the market's later events
 * (finalized, convicted, expired) are reconciled against the chain. The DisputeCourt's
 * events go to the court side (index.ts): its keeper and jury duty.
 */
import { getJob, type ProtocolEvent } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { type VerifierJobDetail, verifierDetail } from '../../state/job-detail.js'
import type { JobRecord } from '../../state/records.js'
import { type AwardedJob, findAwardedJob } from '../shared.js'
import { challengePending } from './challenge.js'
import type { VerifierContext } from './context.js'

type CommitEvent = Extract<ProtocolEvent, { eventName: 'ResultCommitted' }>

/** The verifier's record of an awarded job (the existing one when it has one already). */
export async function recordJob(
  ctx: Pick<VerifierContext, 'components'>,
  award: AwardedJob,
  commitBlock: bigint | undefined,
) {
  const { state } = ctx.components
  const existing = await state.getJob(award.jobId)
  if (existing !== undefined) return existing
  // the provider's peer, kept for a restart (the directory of peers lives in memory)
  const providerPeer = ctx.components.directory.providerPeer(award.provider)
  const detail: VerifierJobDetail = {
    role: 'verifier',
    award,
    ...(commitBlock === undefined ? {} : { commitBlock }),
    ...(providerPeer === undefined ? {} : { providerPeer }),
  }
  return state.createJob({
    id: award.jobId,
    role: 'verifier',
    state: commitBlock === undefined ? 'awarded' : 'committed',
    kind: award.kind === 1 ? 'training' : 'inference',
    verification: award.verification === 1 ? 'zk' : 'replay',
    modelHash: award.modelHash,
    inputHash: award.inputHash,
    requester: award.requester,
    provider: award.provider,
    price: award.price,
    collateral: award.collateral,
    detail: detail,
  })
}

function ours(ctx: VerifierContext, award: { provider: string; requester: string }): boolean {
  return award.provider.toLowerCase() === ctx.me || award.requester.toLowerCase() === ctx.me
}

/** A commitment: the job is recorded (found on the chain when its award was missed) and checked. */
async function onCommitted(ctx: VerifierContext, event: CommitEvent): Promise<void> {
  const { state, chain } = ctx.components
  const { jobId } = event.args
  let job = await state.getJob(jobId)
  if (job === undefined) {
    const award = await findAwardedJob(chain, jobId)
    if (award === undefined || ours(ctx, award)) return
    job = await recordJob(ctx, award, event.blockNumber)
  } else if (job.role === 'verifier' && job.state === 'awarded') {
    job = await state.transitionJob(jobId, 'committed', {
      patch: {
        resultRoot: event.args.resultRoot,
        detail: { ...verifierDetail(job), commitBlock: event.blockNumber },
      },
    })
  }
  if (job.role === 'verifier') ctx.startCheck(jobId)
}

export async function onVerifierEvents(ctx: VerifierContext, events: ProtocolEvent[]): Promise<void> {
  for (const event of events) {
    if (event.eventName === 'JobAwarded') {
      const award = { ...event.args, blockNumber: event.blockNumber } as AwardedJob
      if (!ours(ctx, award)) await recordJob(ctx, award, undefined)
    } else if (event.eventName === 'ResultCommitted') {
      await onCommitted(ctx, event)
    } else if (
      event.eventName === 'JobFinalized' ||
      event.eventName === 'ProviderConvicted' ||
      event.eventName === 'JobExpired'
    ) {
      const job = await ctx.components.state.getJob(event.args.jobId)
      if (job?.role === 'verifier') await ctx.reconcile(job)
    }
  }
}

export async function reconcileJob(ctx: VerifierContext, recorded: JobRecord): Promise<void> {
  const { state, chain } = ctx.components
  const onChain = await getJob(chain.client, { jobMarket: ctx.market(), jobId: recorded.id as Hex })
  let job = recorded
  // a commit whose event this verifier missed (killed while it came): the record catches up,
  // so that the job's settlement ends it (no check: the commit's block is unknown)
  if (
    job.state === 'awarded' &&
    ['committed', 'challenged', 'finalized', 'providerSlashed'].includes(onChain.status)
  ) {
    job = await state.transitionJob(job.id, 'committed', {
      patch: { resultRoot: onChain.resultRoot },
      note: 'commit found on-chain; its event was missed',
    })
  }
  if (onChain.status === 'finalized' && (job.state === 'committed' || job.state === 'challenged')) {
    await state.transitionJob(job.id, 'finalized')
  } else if (
    onChain.status === 'providerSlashed' &&
    (job.state === 'committed' || job.state === 'challenged')
  ) {
    await state.transitionJob(job.id, 'slashed')
  } else if (onChain.status === 'expired' && job.state === 'awarded') {
    await state.transitionJob(job.id, 'expired')
  } else if (
    (job.state === 'committed' && verifierDetail(job).report === undefined) ||
    challengePending(verifierDetail(job).challenge)
  ) {
    // a check not run yet, or this verifier's own challenge still to commit or reveal
    ctx.startCheck(job.id)
  }
}
