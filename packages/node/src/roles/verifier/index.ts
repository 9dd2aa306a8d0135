/**
 * The verifier role: watches result commitments, draws the leaves to check from its own
 * signature over the commitment (a private sample: the provider cannot know it, and every
 * verifier checks other leaves) out of the leaf count the job's terms fix, re-executes them
 * under the job's replay profile, compares them with the provider's leaves, and challenges on
 * a mismatch, on leaves or checkpoints the provider will not serve, and on a committed leaf
 * count other than the terms'. Each check leaves a report on the job record: indices,
 * detection probability, cost, the sample's signature.
 *
 * watch.ts records jobs and follows their events, sample.ts draws the leaves, check.ts runs
 * a check and writes its report, evidence.ts turns its findings into a challenge,
 * challenge.ts opens the challenge.
 */
import type { Hex } from 'viem'
import type { RoleService } from '../../api/services.js'
import { createRoleMetrics } from '../metrics.js'
import type { VerifierRoleOptions } from '../options.js'
import { createTicker, type RoleComponents } from '../shared.js'
import { check } from './check.js'
import type { VerifierContext } from './context.js'
import { onVerifierEvents, reconcileJob } from './watch.js'

export interface VerifierRole extends RoleService {
  readonly role: 'verifier'
  tick(): Promise<void>
}

export function createVerifierRole(options: VerifierRoleOptions, components: RoleComponents): VerifierRole {
  const { chain, state, keys } = components
  const checking = new Map<string, Promise<void>>()
  const unsubscribers: Array<() => void> = []
  const ctx: VerifierContext = {
    components,
    options,
    metrics: createRoleMetrics(components.metrics),
    log: components.logger.child({ role: 'verifier' }),
    me: keys.account.address.toLowerCase(),
    market: () => chain.deployment.addresses.jobMarket,
    startCheck(jobId) {
      if (checking.has(jobId)) return
      const run = check(ctx, jobId as Hex)
        .catch((err: unknown) => ctx.log.warn({ jobId, err }, 'verification failed; will retry'))
        .finally(() => checking.delete(jobId))
      checking.set(jobId, run)
    },
    reconcile: (job) => reconcileJob(ctx, job),
  }

  async function tick(): Promise<void> {
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

  return {
    role: 'verifier',
    async start() {
      unsubscribers.push(chain.onEvents((events) => onVerifierEvents(ctx, events)))
      ticker.start()
    },
    async stop() {
      for (const off of unsubscribers.splice(0)) off()
      await ticker.stop()
      await Promise.allSettled([...checking.values()])
    },
    tick: () => ticker.now(),
  }
}
