/**
 * What the provider's modules share: the parts the role runs on, its options, metrics and
 * logger, and the two things it only learns at start (its identity binding and the zk
 * circuits it holds). Each module takes this one object instead of a long argument list.
 */
import type { IdentityBinding, JobOffer } from '@ocn/protocol'
import type { Hex } from 'viem'
import type { Logger } from '../../core/logger.js'
import { type JobSpec, parseJobSpec } from '../../executor/spec.js'
import type { JobRecord } from '../../state/records.js'
import { createRoleMetrics, type RoleMetrics } from '../metrics.js'
import type { ProviderRoleOptions } from '../options.js'
import type { RoleComponents } from '../shared.js'
import { circuitForModel, loadZkCircuits, type ZkCircuitIndex } from '../zk.js'
import { CommitQueue } from './commit-queue.js'

export interface ProviderContext {
  readonly components: RoleComponents
  readonly options: ProviderRoleOptions
  readonly metrics: RoleMetrics
  readonly log: Logger
  /** this provider's address, lowercased */
  readonly me: string
  /** signed at start; no ad or bid goes out before */
  binding: IdentityBinding | undefined
  /** zk-mode offers are bid on only for models whose circuit sits in <data-dir>/zk (read at start) */
  zkCircuits: ZkCircuitIndex
  /** every replay commit goes through it: commits ready at once share a transaction */
  readonly commits: CommitQueue
}

export function createProviderContext(
  options: ProviderRoleOptions,
  components: RoleComponents,
): ProviderContext {
  const log = components.logger.child({ role: 'provider' })
  const metrics = createRoleMetrics(components.metrics)
  return {
    components,
    options,
    metrics,
    log,
    me: components.keys.account.address.toLowerCase(),
    binding: undefined,
    zkCircuits: loadZkCircuits([]),
    commits: new CommitQueue({ components, log, batchMax: options.settlementBatchMax, metrics }),
  }
}

const OPEN_STATES: readonly string[] = ['bidding', 'awarded', 'executing', 'committed', 'challenged']

/** The provider's jobs not yet settled. */
export async function openJobs(ctx: ProviderContext): Promise<JobRecord[]> {
  const jobs = await ctx.components.state.listJobs({ role: 'provider' })
  return jobs.filter((j) => OPEN_STATES.includes(j.state))
}

/** Jobs awarded to this provider and not yet committed: each holds a slot. */
export async function busySlots(ctx: ProviderContext): Promise<number> {
  return (await openJobs(ctx)).filter((j) => j.state === 'awarded' || j.state === 'executing').length
}

/** The offer's inline job spec, or undefined when it has none or it does not parse. */
export function offerSpec(offer: JobOffer): JobSpec | undefined {
  if (offer.spec === undefined) return undefined
  try {
    return parseJobSpec(JSON.parse(new TextDecoder().decode(offer.spec)))
  } catch {
    return undefined
  }
}

/** The zk circuit this provider holds for a model, or why it cannot prove it. */
export function zkCircuitFor(ctx: ProviderContext, modelHash: Hex): ReturnType<typeof circuitForModel> {
  const { chain } = ctx.components
  return circuitForModel(
    ctx.zkCircuits,
    chain.client,
    chain.deployment.addresses.zkVerifierRegistry,
    modelHash,
  )
}
