/**
 * The provider role: advertises its hardware, bids on offers it can run, and on an award
 * (seen on-chain) fetches the artifacts, runs the job, commits the Merkle root, serves
 * leaves, proofs and outputs, and finalizes once the challenge window has passed.
 *
 * Every step is recorded in the StateStore before the next one starts, and every step first
 * asks the chain where the job stands, so a node killed at any point resumes without acting
 * twice: the tick loop picks up jobs left in `awarded` or `executing` and re-runs them.
 *
 * The modules, in the order a job meets them: bidding.ts (offers, the check before bidding,
 * pricing), run.ts (execution), commit.ts, serve.ts (leaves to verifiers), reconcile.ts
 * (chain events, the tick, restart recovery); advertise.ts publishes the capability ad.
 */
import { createIdentityBinding } from '@ocn/protocol'
import type { RoleService } from '../../api/services.js'
import { requireModelRegistry } from '../models.js'
import type { ProviderRoleOptions } from '../options.js'
import { createTicker, type RoleComponents } from '../shared.js'
import { loadZkCircuits } from '../zk.js'
import { createAdvertiser } from './advertise.js'
import { Bidding } from './bidding.js'
import { createProviderContext } from './context.js'
import { honestFaultPlan, type ProviderFaultPlan } from './faults.js'
import { applyPayoutChoice } from './payout.js'
import { Reconciler } from './reconcile.js'
import { JobRunner } from './run.js'
import { serveResult } from './serve.js'

export type {
  FaultContext,
  InferenceOutputs,
  ProviderFaultPlan,
  Tampered,
  TrainingCheckpoints,
} from './faults.js'
export { honestFaultPlan } from './faults.js'
export type { TrainingManifest } from './run.js'

export interface ProviderRole extends RoleService {
  readonly role: 'provider'
  /** runs one reconciliation pass now (tests) */
  tick(): Promise<void>
}

export interface ProviderRoleExtras {
  /** where results could be tampered with before commit; honest (unchanged) when absent */
  faults?: ProviderFaultPlan
}

export function createProviderRole(
  options: ProviderRoleOptions,
  components: RoleComponents,
  extras: ProviderRoleExtras = {},
): ProviderRole {
  const ctx = createProviderContext(options, components)
  const { network, chain, keys } = components
  const advertiser = createAdvertiser(ctx)
  const bidding = new Bidding(ctx)
  const runner: JobRunner = new JobRunner(ctx, {
    faults: extras.faults ?? honestFaultPlan,
    reconcile: (job) => reconciler.reconcile(job.id),
    // a fresh ad means a verifier that joined after the last periodic ad still finds us
    committed: () => void advertiser.publish(),
  })
  const reconciler = new Reconciler(ctx, {
    execute: (jobId) => runner.execute(jobId),
    isRunning: (jobId) => runner.isRunning(jobId),
  })
  const ticker = createTicker(ctx.options.tickIntervalMs, () => reconciler.tick(), ctx.log)
  const unsubscribers: Array<() => void> = []

  return {
    role: 'provider',
    async start() {
      if (options.models.onlyApproved) requireModelRegistry(chain, 'provider.models.onlyApproved')
      // before the first bid: jobs awarded from now on are paid the configured way
      await applyPayoutChoice(components, options.payoutToBalance, ctx.log)
      ctx.binding = await createIdentityBinding(keys.account, keys.privateKey)
      ctx.zkCircuits = loadZkCircuits([options.zkDir], (dir, err) =>
        ctx.log.warn({ dir, err }, 'zk circuit skipped'),
      )
      network.results.setResultHandler((request) => serveResult(ctx, request, extras.faults))
      unsubscribers.push(
        network.gossip.onOffer(({ offer, jobId }) => {
          bidding
            .onOffer(offer, jobId)
            .catch((err: unknown) => ctx.log.warn({ jobId, err }, 'offer handling failed'))
        }),
        chain.onEvents((events) => reconciler.onEvents(events)),
      )
      await advertiser.start()
      ticker.start()
    },
    async stop() {
      bidding.stop()
      advertiser.stop()
      for (const off of unsubscribers.splice(0)) off()
      network.results.setResultHandler(undefined)
      await ticker.stop()
      await runner.drain()
      await reconciler.settled()
    },
    async offers() {
      return bidding.offers()
    },
    tick: () => ticker.now(),
  }
}
