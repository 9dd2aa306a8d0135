/**
 * Keeping the provider's records in line with the chain. Award events start executions; the
 * tick asks the chain where each open job stands, which also recovers a restart: a job left
 * in `awarded` or `executing` runs again, a commit or award made just before a crash is found,
 * and a committed job is finalized once its challenge window has passed.
 */
import { finalize, getJob, type GetJobReturnType as JobView, type ProtocolEvent } from '@ocn/contracts-client'
import { decodeJobOffer } from '@ocn/protocol'
import { type Hex, hexToBytes } from 'viem'
import { providerDetail } from '../../state/job-detail.js'
import type { JobRecord } from '../../state/records.js'
import { openJobs, type ProviderContext } from './context.js'

export interface ReconcilerDeps {
  /** starts (or joins) the execution of an awarded job */
  execute(jobId: string): void
  isRunning(jobId: string): boolean
}

export class Reconciler {
  constructor(
    private readonly ctx: ProviderContext,
    private readonly deps: ReconcilerDeps,
  ) {}

  /** One pass over the open jobs not executing right now. */
  async tick(): Promise<void> {
    for (const job of await openJobs(this.ctx)) {
      if (this.deps.isRunning(job.id)) continue
      // a challenge resolved in our favour puts the job back to committed on-chain
      await this.reconcile(job).catch((err: unknown) =>
        this.ctx.log.warn({ jobId: job.id, err }, 'reconcile failed'),
      )
    }
  }

  /** JobAwarded events: ours start executing, a bid that lost is closed. */
  async onEvents(events: ProtocolEvent[]): Promise<void> {
    const { state } = this.ctx.components
    for (const event of events) {
      if (event.eventName !== 'JobAwarded') continue
      const { jobId, provider } = event.args
      const job = await state.getJob(jobId)
      if (job === undefined || job.role !== 'provider') continue
      if (provider.toLowerCase() !== this.ctx.me) {
        if (job.state === 'bidding')
          await state.transitionJob(jobId, 'failed', { note: 'awarded to another provider' })
        continue
      }
      if (job.state === 'bidding') {
        await state.transitionJob(jobId, 'awarded', {
          patch: { price: event.args.price, collateral: event.args.collateral },
          txHash: event.transactionHash,
        })
        this.ctx.log.info({ jobId }, 'job awarded to us')
      }
      this.deps.execute(jobId)
    }
  }

  /** Brings a local record in line with the job's on-chain status. */
  async reconcile(job: JobRecord): Promise<void> {
    const { chain, state } = this.ctx.components
    const jobId = job.id as Hex
    const onChain = await getJob(chain.client, { jobMarket: chain.deployment.addresses.jobMarket, jobId })
    switch (onChain.status) {
      case 'awarded':
        return this.awarded(job, onChain)
      case 'committed':
        // a DisputeCourt dispute holds the job: it stays committed on the chain until ruled
        if (onChain.openDisputes > 0 && job.state === 'committed') {
          await state.transitionJob(jobId, 'challenged', { note: 'disputed in the court' })
          return
        }
        return this.committed(job, onChain)
      case 'finalized':
        return this.finalized(job, onChain)
      case 'providerSlashed':
        if (job.state === 'committed' || job.state === 'challenged') {
          await state.transitionJob(jobId, 'slashed', { note: 'convicted by a jury' })
        }
        return
      case 'expired':
        if (job.state === 'awarded' || job.state === 'executing') await state.transitionJob(jobId, 'expired')
        return
      case 'none':
        return this.neverAwarded(job)
    }
  }

  private async awarded(job: JobRecord, onChain: JobView): Promise<void> {
    const { state } = this.ctx.components
    // the award event may have been missed while the node was down
    if (job.state === 'bidding' && onChain.provider.toLowerCase() === this.ctx.me) {
      await state.transitionJob(job.id, 'awarded', { note: 'award found on-chain after restart' })
      this.deps.execute(job.id)
    } else if (job.state === 'bidding') {
      await state.transitionJob(job.id, 'failed', { note: 'awarded to another provider' })
    } else if (job.state === 'awarded' || job.state === 'executing') this.deps.execute(job.id)
  }

  private async committed(job: JobRecord, onChain: JobView): Promise<void> {
    const { chain, state } = this.ctx.components
    if (job.state === 'executing' && onChain.resultRoot === job.resultRoot) {
      await state.transitionJob(job.id, 'committed', { note: 'commit found on-chain after restart' })
      return
    }
    // a job whose disputes were all ruled not guilty (or expired) is finalized like any other
    if ((job.state !== 'committed' && job.state !== 'challenged') || onChain.openDisputes > 0) return
    if ((await chain.chainTime()) < BigInt(onChain.challengeEnds)) return
    const { hash } = await chain.serialize(() =>
      finalize(chain.client, { jobMarket: chain.deployment.addresses.jobMarket, jobId: job.id as Hex }),
    )
    await state.transitionJob(job.id, 'finalized', { txHash: hash })
    this.ctx.log.info({ jobId: job.id }, 'job finalized; payment collected')
  }

  private async finalized(job: JobRecord, onChain: JobView): Promise<void> {
    const { state } = this.ctx.components
    // a zk job settles at commit: a restart after commitZkResult finds it finalized while executing
    if (job.state === 'executing' && job.verification === 'zk') {
      await state.transitionJob(job.id, 'committed', {
        patch: { resultRoot: onChain.resultRoot },
        note: 'zk commit found on-chain after restart',
      })
      await state.transitionJob(job.id, 'finalized')
      return
    }
    if (job.state === 'committed' || job.state === 'challenged')
      await state.transitionJob(job.id, 'finalized')
  }

  /** Never awarded: give up once the offer's deadline is behind us. */
  private async neverAwarded(job: JobRecord): Promise<void> {
    if (job.state !== 'bidding') return
    const offer = decodeJobOffer(hexToBytes(providerDetail(job).offer))
    if ((await this.ctx.components.chain.chainTime()) > offer.terms.deadline) {
      await this.ctx.components.state.transitionJob(job.id, 'failed', { note: 'not awarded' })
    }
  }
}
