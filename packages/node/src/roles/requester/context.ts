/**
 * What the requester's parts share: the node's components, the role's options, metrics and
 * logger, and the timers and runs that stop() must end. One per role, built by index.ts.
 */
import type { Address } from 'viem'
import type { Logger } from '../../core/logger.js'
import { createRoleMetrics, type RoleMetrics } from '../metrics.js'
import type { RequesterRoleOptions } from '../options.js'
import type { RoleComponents } from '../shared.js'

export interface RequesterContext
  extends Pick<RoleComponents, 'state' | 'chain' | 'network' | 'store' | 'executor' | 'keys' | 'directory'> {
  options: RequesterRoleOptions
  metrics: RoleMetrics
  log: Logger
  /** the bidding-window and re-offer timers, cleared on stop */
  timers: RoleTimers
}

export function createRequesterContext(
  options: RequesterRoleOptions,
  components: RoleComponents,
): RequesterContext {
  const { state, chain, network, store, executor, keys, directory } = components
  return {
    state,
    chain,
    network,
    store,
    executor,
    keys,
    directory,
    options,
    metrics: createRoleMetrics(components.metrics),
    log: components.logger.child({ role: 'requester' }),
    timers: new RoleTimers(),
  }
}

/** The job market contract every requester call goes to. */
export function jobMarket(context: Pick<RequesterContext, 'chain'>): Address {
  return context.chain.deployment.addresses.jobMarket
}

/** Timers that forget themselves once fired, so stop() clears only the pending ones. */
export class RoleTimers {
  private readonly pending = new Set<NodeJS.Timeout>()

  after(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer)
      run()
    }, delayMs)
    this.pending.add(timer)
  }

  clear(): void {
    for (const t of this.pending) clearTimeout(t)
    this.pending.clear()
  }
}

/** At most one run per job: starting a job that is already running does nothing. */
export class JobRuns {
  private readonly running = new Map<string, Promise<void>>()

  start(jobId: string, run: () => Promise<void>, onError: (err: unknown) => void): void {
    if (this.running.has(jobId)) return
    const done = run()
      .catch(onError)
      .finally(() => this.running.delete(jobId))
    this.running.set(jobId, done)
  }

  /** the runs in progress now (stop() waits for them) */
  inProgress(): Promise<void>[] {
    return [...this.running.values()]
  }
}
