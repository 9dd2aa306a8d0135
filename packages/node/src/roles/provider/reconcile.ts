/**
 * Keeping the provider's records in line with the chain. Award events start executions; the
 * other events of our jobs (commit, challenge, resolution, finalization, expiry) and the
 * periodic tick ask the chain where the job stands and walk the record there, which also
 * recovers a restart: a job left in `awarded` or `executing` runs again, a commit or award
 * made just before a crash is found, and a committed job is finalized once its challenge
 * window has passed. Every terminal on-chain state (finalized, slashed, expired) ends the
 * local record, so its job slot is freed.
 *
 * The handlers of one job run one at a time (JobLocks): an event and the tick that saw the
 * same chain change act one after the other, and the second finds the work done.
 */
import { getJob, type GetJobReturnType as JobView, type ProtocolEvent } from '@ocn/contracts-client'
import { decodeJobOffer } from '@ocn/protocol'
import { type Hex, hexToBytes } from 'viem'
import { providerDetail } from '../../state/job-detail.js'
import { JobLocks } from '../../state/job-locks.js'
import { isTerminalJobState, type JobState } from '../../state/job-state.js'
import type { JobPatch, JobRecord } from '../../state/records.js'
import { openJobs, type ProviderContext } from './context.js'
import { finalizeNow, finalizeTogether } from './finalize-sweep.js'
import { reconcilePlan } from './reconcile-plan.js'

export interface ReconcilerDeps {
  /** starts (or joins) the execution of an awarded job */
  execute(jobId: string): void
  isRunning(jobId: string): boolean
}

/** A committed job whose challenge window has passed, and for how long (chain seconds). */
interface DueJob {
  id: string
  overdueSeconds: number
}

/** Events after the award that move one of our jobs: each makes the job reconcile at once. */
const SETTLING_EVENTS: ReadonlySet<string> = new Set([
  'ResultCommitted',
  'ZkResultCommitted',
  'Challenged',
  'ChallengeResolved',
  'JobFinalized',
  'JobExpired',
])

export class Reconciler {
  private readonly locks = new JobLocks()

  constructor(
    private readonly ctx: ProviderContext,
    private readonly deps: ReconcilerDeps,
  ) {}

  /**
   * One pass over the open jobs not executing right now. The jobs it finds due for
   * finalization are finalized together at the end of the pass (finalize-sweep.ts).
   */
  async tick(): Promise<void> {
    const due: DueJob[] = []
    const jobs = await openJobs(this.ctx)
    // one chain time for the pass, read only when a bid is open
    const now = jobs.some((j) => j.state === 'bidding') ? await this.ctx.components.chain.chainTime() : 0n
    for (const job of jobs) {
      if (this.deps.isRunning(job.id)) continue
      // A bid whose offer is still open for awards: its award (or another's) arrives as a
      // JobAwarded event, so a chain read every tick for every open bid (a busy provider holds
      // dozens) learns nothing; the first tick past the bidding end reads it once.
      if (job.state === 'bidding' && biddingEndsOf(job) >= now) continue
      await this.reconcile(job.id, due).catch((err: unknown) =>
        this.ctx.log.warn({ jobId: job.id, err }, 'reconcile failed'),
      )
    }
    await this.finalizeDue(due)
  }

  /**
   * Finalizes the tick's due jobs together, once the one due longest has waited
   * provider.finalizeDelayMs (0: at once); until then they wait for more to join them.
   */
  private async finalizeDue(due: DueJob[]): Promise<void> {
    const waitedMs = due.reduce((most, job) => Math.max(most, job.overdueSeconds * 1000), -1)
    if (waitedMs < this.ctx.options.finalizeDelayMs) return
    await finalizeTogether(
      this.ctx,
      this.locks,
      due.map((job) => job.id),
    )
  }

  /** Resolves once the handlers started so far have ended (shutdown). */
  settled(): Promise<void> {
    return this.locks.settled()
  }

  /** JobAwarded events: ours start executing, a bid that lost is closed; later events reconcile. */
  async onEvents(events: ProtocolEvent[]): Promise<void> {
    for (const event of events) {
      if (event.eventName === 'JobFinalized' && event.args.provider.toLowerCase() === this.ctx.me) {
        const { jobId, payout } = event.args
        await this.locks.run(jobId, () => this.recordPayout(jobId, payout))
      }
      if (event.eventName === 'JobAwarded') {
        const { jobId, provider, price, collateral } = event.args
        await this.locks.run(jobId, () =>
          this.onAward(jobId, provider, { price, collateral, txHash: event.transactionHash }),
        )
      } else if (SETTLING_EVENTS.has(event.eventName) && 'jobId' in event.args) {
        const jobId = event.args.jobId
        // a job executing records its own commit; the tick follows it from there
        if (this.deps.isRunning(jobId)) continue
        // quick: the listener only starts the reconcile (the tick catches up on a failure)
        void this.reconcile(jobId).catch((err: unknown) =>
          this.ctx.log.warn({ jobId, err }, 'reconcile after an event failed'),
        )
      }
    }
  }

  /** Writes what settlement paid on the job's record (the console's earnings), once. */
  private async recordPayout(jobId: string, payout: bigint): Promise<void> {
    const { state } = this.ctx.components
    const job = await state.getJob(jobId)
    if (job?.role !== 'provider') return
    const detail = providerDetail(job)
    if (detail.payout === payout) return
    await state.updateJob(jobId, { detail: { ...detail, payout } })
  }

  /**
   * Brings the local record of `jobId` in line with the job's on-chain status. With `due`, a
   * job whose finalization is due is added to it instead of finalized (the tick's batch).
   */
  reconcile(jobId: string, due?: DueJob[]): Promise<void> {
    return this.locks.run(jobId, async () => {
      const job = await this.ctx.components.state.getJob(jobId)
      if (job === undefined || job.role !== 'provider' || isTerminalJobState(job.state)) return
      const { chain } = this.ctx.components
      const onChain = await getJob(chain.client, {
        jobMarket: chain.deployment.addresses.jobMarket,
        jobId: jobId as Hex,
      })
      await this.follow(job, onChain, due)
    })
  }

  private async onAward(
    jobId: string,
    provider: string,
    award: { price: bigint; collateral: bigint; txHash: string },
  ): Promise<void> {
    const { state } = this.ctx.components
    const job = await state.getJob(jobId)
    if (job === undefined || job.role !== 'provider') return
    if (provider.toLowerCase() !== this.ctx.me) {
      if (job.state === 'bidding')
        await state.transitionJob(jobId, 'failed', { note: 'awarded to another provider' })
      return
    }
    if (job.state === 'bidding') {
      await state.transitionJob(jobId, 'awarded', {
        patch: { price: award.price, collateral: award.collateral },
        txHash: award.txHash,
      })
      this.ctx.log.info({ jobId }, 'job awarded to us')
    }
    if (job.state === 'bidding' || job.state === 'awarded' || job.state === 'executing')
      this.deps.execute(jobId)
  }

  private async follow(job: JobRecord, onChain: JobView, due?: DueJob[]): Promise<void> {
    const mine = onChain.status !== 'none' && onChain.provider.toLowerCase() === this.ctx.me
    const plan = reconcilePlan(job.state, onChain.status, mine, onChain.openDisputes)
    let current = job
    for (const { to, note } of plan.transitions) current = await this.step(current, to, note, onChain)
    switch (plan.action) {
      case 'execute':
        return this.deps.execute(job.id)
      case 'finalize':
        return this.finalizeWhenDue(current, onChain, due)
      case 'give-up-when-due':
        return this.neverAwarded(current)
    }
  }

  /** One planned transition, with what the chain says of the job where the record lacks it. */
  private async step(job: JobRecord, to: JobState, note: string, onChain: JobView): Promise<JobRecord> {
    const patch: JobPatch =
      to === 'awarded'
        ? { price: onChain.price, collateral: onChain.collateral }
        : to === 'committed' && job.resultRoot === undefined
          ? { resultRoot: onChain.resultRoot }
          : {}
    const next = await this.ctx.components.state.transitionJob(job.id, to, { patch, note })
    if (to === 'committed') this.recordedCommit(job, onChain)
    if (to === 'finalized') this.ctx.log.info({ jobId: job.id }, 'job finalized on-chain')
    else if (isTerminalJobState(to) || to === 'expired')
      this.ctx.log.warn({ jobId: job.id, state: to, note }, 'job ended on-chain')
    return next
  }

  /**
   * The record caught up with a commit that landed while it said `awarded` or `executing`
   * (killed between the transaction and its record). The leaves were written before the
   * transaction was sent, so they are the ones the chain holds.
   */
  private recordedCommit(job: JobRecord, onChain: JobView): void {
    if (job.verification === 'replay' && job.resultRoot !== onChain.resultRoot) {
      this.ctx.log.error(
        { jobId: job.id, local: job.resultRoot, onChain: onChain.resultRoot },
        'the committed root is not the one on this record: its leaves cannot answer a dispute',
      )
    }
    this.ctx.metrics.resultsCommitted.inc({ kind: job.kind })
  }

  /**
   * Finalizes a committed job once its challenge window is behind us (and collects the
   * payment), or adds it to `due` for the tick's batch.
   */
  private async finalizeWhenDue(job: JobRecord, onChain: JobView, due?: DueJob[]): Promise<void> {
    const now = await this.ctx.components.chain.chainTime()
    if (now < BigInt(onChain.challengeEnds)) return
    if (due !== undefined)
      due.push({ id: job.id, overdueSeconds: Number(now - BigInt(onChain.challengeEnds)) })
    // the caller holds this job's lock
    else await finalizeNow(this.ctx, [job.id])
  }

  /**
   * Never awarded: give up once the offer's bidding end is behind the chain, since the market
   * refuses every award in a block past it (BiddingClosed). Until then the bid stays open and
   * holds no slot. The chain time is read before the job's status, so an award that landed in
   * between is seen: giving up on an awarded job would make this provider a no-show.
   */
  private async neverAwarded(job: JobRecord): Promise<void> {
    if (job.state !== 'bidding') return
    const { chain, state } = this.ctx.components
    if ((await chain.chainTime()) <= biddingEndsOf(job)) return
    const onChain = await getJob(chain.client, {
      jobMarket: chain.deployment.addresses.jobMarket,
      jobId: job.id as Hex,
    })
    if (onChain.status !== 'none') return
    await state.transitionJob(job.id, 'failed', { note: 'not awarded by the bidding end' })
  }
}

/** The chain time (s) after which the market refuses an award of the offer this bid answers. */
function biddingEndsOf(job: JobRecord): bigint {
  return decodeJobOffer(hexToBytes(providerDetail(job).offer)).terms.biddingEnds
}
