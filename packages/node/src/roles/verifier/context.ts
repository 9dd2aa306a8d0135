import type { Address } from 'viem'
import type { Logger } from '../../core/logger.js'
import type { JobRecord } from '../../state/records.js'
import type { RoleMetrics } from '../metrics.js'
import type { VerifierRoleOptions } from '../options.js'
import type { RoleComponents } from '../shared.js'

/**
 * What the court's challenger (challenge.ts) and keeper (keeper.ts) need: the chain, the
 * state and the timing, nothing of the network or the executor.
 */
export interface CourtContext {
  readonly components: Pick<RoleComponents, 'chain' | 'state'>
  readonly metrics: RoleMetrics
  readonly log: Logger
  /** this node's address, lowercased */
  readonly me: string
  /** the JobMarket the deployment names */
  market(): Address
  /** the DisputeCourt the deployment names (throws ROLE_NOT_SUPPORTED when it names none) */
  court(): Address
  /** waits `ms`; rejects once the role stops, so no wait outlives it */
  pause(ms: number): Promise<void>
}

/**
 * What the verifier's parts share. Watching starts checks and checking falls back to
 * reconciling with the chain, so the two calls that tie them together live here rather
 * than in either module.
 */
export interface VerifierContext extends CourtContext {
  readonly components: RoleComponents
  readonly options: VerifierRoleOptions
  readonly metrics: RoleMetrics
  readonly log: Logger
  /** this node's address, lowercased: jobs it requested or provides are not its to verify */
  readonly me: string
  /** the JobMarket the deployment names */
  market(): Address
  /** the DisputeCourt the deployment names (throws ROLE_NOT_SUPPORTED when it names none) */
  court(): Address
  /** waits `ms`; rejects once the role stops, so no wait outlives it */
  pause(ms: number): Promise<void>
  /** checks a committed job in the background unless a check of it is already running */
  startCheck(jobId: string): void
  /** brings a job's record in line with the chain, and checks it when a check is due */
  reconcile(job: JobRecord): Promise<void>
  /**
   * whether this node has run long enough (a capability ad's TTL) to have heard every live
   * provider's ad: before that, a provider peer unknown here is this node's ignorance, not
   * evidence that the provider is unreachable
   */
  heardEveryAd(): boolean
}
