/**
 * The verifier role: watches result commitments, draws the leaves to check from its own
 * signature over the commitment (a private sample: the provider cannot know it, and every
 * verifier checks other leaves) out of the leaf count the job's terms fix, re-executes them
 * under the job's replay profile, compares them with the provider's leaves, and challenges on
 * a mismatch, on leaves or checkpoints the provider will not serve, and on a committed leaf
 * count other than the terms'. Each check leaves a report on the job record: indices,
 * detection probability, cost, the sample's signature.
 *
 * Challenges go to the DisputeCourt sealed (commit, then reveal), and the verifier is a juror
 * there too: it joins the juror pool at start, re-executes the disputed leaf when it is drawn
 * and votes by commit–reveal, and keeps every dispute it hears of moving (draw, rule, execute,
 * expire) when nobody else does.
 *
 * watch.ts records jobs and follows their events, sample.ts draws the leaves, check.ts runs
 * a check and writes its report, evidence.ts turns its findings into a challenge,
 * challenge.ts commits and reveals it; court-duty.ts joins the pool and runs jury.ts (seats,
 * with jury-verdict.ts judging the leaf) and keeper.ts (the court's stages).
 */
import type { Address, Hex } from 'viem'
import type { RoleService } from '../../api/services.js'
import { sleep } from '../../core/time.js'
import { verifierDetail } from '../../state/job-detail.js'
import { RoleError } from '../errors.js'
import { createRoleMetrics } from '../metrics.js'
import type { VerifierRoleOptions } from '../options.js'
import { createTicker, type RoleComponents } from '../shared.js'
import { challengePending } from './challenge.js'
import { check } from './check.js'
import type { VerifierContext } from './context.js'
import { createCourtDuty } from './court-duty.js'
import { onRewardEvents } from './rewards.js'
import { onVerifierEvents, reconcileJob } from './watch.js'

export interface VerifierRole extends RoleService {
  readonly role: 'verifier'
  tick(): Promise<void>
}

export function createVerifierRole(options: VerifierRoleOptions, components: RoleComponents): VerifierRole {
  const { chain, state, keys } = components
  const checking = new Map<string, Promise<void>>()
  const unsubscribers: Array<() => void> = []
  const stopping = new AbortController()
  const startedAt = Date.now()
  const ctx: VerifierContext = {
    components,
    options,
    metrics: createRoleMetrics(components.metrics),
    log: components.logger.child({ role: 'verifier' }),
    me: keys.account.address.toLowerCase(),
    market: () => chain.deployment.addresses.jobMarket,
    court: () => courtOf(chain.deployment.addresses.disputeCourt),
    pause: (ms) =>
      sleep(ms, stopping.signal, () => new RoleError('ROLE_JOB_STATE', 'the verifier role is stopping')),
    startCheck(jobId) {
      if (checking.has(jobId)) return
      const run = check(ctx, jobId as Hex)
        .catch((err: unknown) => ctx.log.warn({ jobId, err }, 'verification failed; will retry'))
        .finally(() => checking.delete(jobId))
      checking.set(jobId, run)
    },
    reconcile: (job) => reconcileJob(ctx, job),
    heardEveryAd: () => Date.now() - startedAt >= options.capabilityAdTtlSeconds * 1000,
  }

  const court = createCourtDuty(ctx)

  async function tick(): Promise<void> {
    await court.tick()
    const jobs = await state.listJobs({ role: 'verifier' })
    for (const job of jobs) {
      if (job.state !== 'committed' && job.state !== 'challenged' && job.state !== 'awarded') continue
      if (checking.has(job.id)) continue
      await ctx
        .reconcile(job)
        .catch((err: unknown) => ctx.log.warn({ jobId: job.id, err }, 'reconcile failed'))
    }
  }

  const ticker = createTicker(ctx.options.tickIntervalMs, tick, ctx.log)

  /** Starts (in the background) every challenge still to commit or reveal and every vote to reveal. */
  async function resumeSealed(): Promise<void> {
    for (const job of await state.listJobs({ role: 'verifier' })) {
      if (challengePending(verifierDetail(job).challenge)) ctx.startCheck(job.id)
    }
    await court.resume()
  }

  return {
    role: 'verifier',
    async start() {
      // first thing: what this node sealed before a restart has deadlines (reveal its
      // challenges and its votes) and must not wait for joining the pool or reading old events
      await resumeSealed()
      unsubscribers.push(chain.onEvents((events) => onVerifierEvents(ctx, events)))
      unsubscribers.push(chain.onEvents((events) => court.onEvents(events)))
      // a dispute's phases run on the court's clock: a juror or keeper must not poll slowly
      unsubscribers.push(chain.addWorkProbe(() => court.busy()))
      unsubscribers.push(chain.onEvents((events) => onRewardEvents(ctx, events)))
      await court.start()
      ticker.start()
    },
    async stop() {
      for (const off of unsubscribers.splice(0)) off()
      stopping.abort()
      await ticker.stop()
      await Promise.allSettled([...checking.values()])
      await court.stop()
    },
    tick: () => ticker.now(),
  }
}

function courtOf(address: Address | undefined): Address {
  if (address === undefined) {
    throw new RoleError('ROLE_NOT_SUPPORTED', 'the deployment names no DisputeCourt', {
      details:
        'the verifier challenges and sits on juries through it: use a deployment file written by deployProtocol with the court (addresses.disputeCourt)',
    })
  }
  return address
}
