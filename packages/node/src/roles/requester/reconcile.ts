/**
 * Keeping the requester's records in line with the chain: on each protocol event and on
 * every tick (which also recovers the jobs left open by a restart), a job's record follows
 * its on-chain status, an overdue award expires for the refund, and whatever the new state
 * calls for (the award, the results fetch, the re-offer of a job that died) is started.
 *
 * A provider still uncommitted past its announced ETA plus requester.noShowGraceMs is a
 * no-show: the job is offered again at once without it, and the old award is left to expire
 * after its deadline (the refund of its escrow). Should the no-show commit after all, the old
 * job is followed and paid like any other: the money path stays the contract's.
 */
import { expire, getJob, type ProtocolEvent } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { requesterDetail } from '../../state/job-detail.js'
import type { JobRecord } from '../../state/records.js'
import { jobMarket, type RequesterContext } from './context.js'
import { reofferDuePatch } from './offer.js'

export interface ReconcileFollowUps {
  /** the bidding window has closed: award the job */
  award(jobId: string): void
  /** results are committed: fetch and check them */
  fetchResults(jobId: string): void
  /** the job died: offer it again after `delayMs` while its retry budget lasts */
  reofferLater(job: JobRecord, delayMs: number): Promise<boolean>
  /** a recorded re-offer is due: publish it unless it is done */
  reofferDue(jobId: string): void
}

export class RequesterReconciler {
  constructor(
    private readonly context: RequesterContext,
    private readonly followUps: ReconcileFollowUps,
  ) {}

  async onEvents(events: ProtocolEvent[]): Promise<void> {
    const { state } = this.context
    for (const event of events) {
      if (!('jobId' in event.args)) continue
      const jobId = event.args.jobId as string
      const job = await state.getJob(jobId)
      if (job === undefined || job.role !== 'requester') continue
      await this.applyStatus(job)
    }
  }

  /** Reconciles every open job; one job's failure does not stop the others. */
  async tick(): Promise<void> {
    const { state, log } = this.context
    const jobs = await state.listJobs({ role: 'requester' })
    for (const job of jobs) {
      // a re-offer recorded but not published (its timer died with a restart) is published now
      const detail = requesterDetail(job)
      if (detail.reofferDueAt !== undefined && detail.reofferedAs === undefined)
        this.followUps.reofferDue(job.id)
      if (['expired', 'failed', 'slashed'].includes(job.state)) continue
      if (job.state === 'finalized' && requesterDetail(job).results !== undefined) continue
      await this.applyStatus(job).catch((err: unknown) =>
        log.warn({ jobId: job.id, err }, 'reconcile failed'),
      )
    }
  }

  /** Brings a record in line with the chain, and starts what the new state calls for. */
  private async applyStatus(job: JobRecord): Promise<void> {
    const { state, chain, log } = this.context
    const jobId = job.id
    if (job.state === 'bidding' || job.state === 'offered') {
      if (Date.now() >= requesterDetail(job).biddingClosesAt) this.followUps.award(jobId)
      return
    }
    const onChain = await getJob(chain.client, { jobMarket: jobMarket(this.context), jobId: jobId as Hex })
    const go = async (to: JobRecord['state'], extra: Parameters<typeof state.transitionJob>[2] = {}) => {
      job = await state.transitionJob(jobId, to, extra)
    }
    if (onChain.status === 'committed' && job.state === 'awarded') {
      await go('committed', { patch: { resultRoot: onChain.resultRoot } })
    } else if (
      onChain.status === 'committed' &&
      onChain.openDisputes > 0 &&
      (job.state === 'awarded' || job.state === 'committed')
    ) {
      // a DisputeCourt dispute holds the job until the jury's ruling is executed
      if (job.state === 'awarded') await go('committed', { patch: { resultRoot: onChain.resultRoot } })
      await go('challenged')
    } else if (onChain.status === 'finalized' && job.state !== 'finalized') {
      if (job.state === 'awarded') await go('committed', { patch: { resultRoot: onChain.resultRoot } })
      await go('finalized')
    } else if (onChain.status === 'providerSlashed' && job.state !== 'slashed') {
      if (job.state === 'awarded') await go('committed', { patch: { resultRoot: onChain.resultRoot } })
      await go('slashed', { note: 'provider caught cheating; price refunded' })
    } else if (onChain.status === 'expired' && job.state === 'awarded') {
      await go('expired', {
        note: 'provider never committed; price refunded',
        ...(await this.reofferDue(jobId)),
      })
      await this.followUps.reofferLater(job, 0)
    } else if (onChain.status === 'awarded' && job.state === 'awarded') {
      if ((await chain.chainTime()) > BigInt(onChain.deadline)) {
        const { hash } = await chain.serialize(() =>
          expire(chain.client, { jobMarket: jobMarket(this.context), jobId: jobId as Hex }),
        )
        await go('expired', {
          txHash: hash,
          note: 'provider never committed; price refunded',
          ...(await this.reofferDue(jobId)),
        })
        log.warn({ jobId, provider: onChain.provider }, 'job expired: refunded, provider slashed')
        await this.followUps.reofferLater(job, 0)
      } else await this.checkNoShow(job)
    }
    if (
      ['committed', 'challenged', 'finalized'].includes(job.state) &&
      requesterDetail(job).results === undefined
    ) {
      this.followUps.fetchResults(jobId)
    }
  }

  /** The expiry's write of the re-offer to come (offer.ts reofferDuePatch), from the record as it is now. */
  private async reofferDue(jobId: string) {
    const { state, options } = this.context
    return reofferDuePatch(await state.requireJob(jobId), options.noBidReoffers, 0)
  }

  /** An awarded provider silent past its ETA and the grace: the job goes on the market again without it. */
  private async checkNoShow(job: JobRecord): Promise<void> {
    const detail = requesterDetail(job)
    if (detail.noShowAt === undefined || Date.now() <= detail.noShowAt) return
    if (detail.reofferDueAt !== undefined || detail.reofferedAs !== undefined) return
    this.context.log.warn(
      { jobId: job.id, provider: job.provider },
      'no-show: the provider has not committed past its ETA; offering the job again without it',
    )
    await this.followUps.reofferLater(job, 0)
  }
}
