/**
 * The arbiter role: the interim dispute path (the council holding the ARBITER role through
 * the AccessManager). On a challenge it re-executes the disputed micro-batch itself and
 * rules with `resolve(jobId, providerCheated)` (dispute.ts says how).
 *
 * It keeps no records of its own: open disputes are found on the chain (Challenged events
 * whose job is still challenged), so a restart simply finds them again.
 */
import { jobMarketAbi, type ProtocolEvent } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import type { RoleService } from '../../api/services.js'
import { createRoleMetrics } from '../metrics.js'
import type { ArbiterRoleOptions } from '../options.js'
import { createTicker, type RoleComponents } from '../shared.js'
import { type ArbiterDecision, type DisputeContext, resolveDispute } from './dispute.js'

export type { ArbiterDecision } from './dispute.js'

export interface ArbiterRole extends RoleService {
  readonly role: 'arbiter'
  tick(): Promise<void>
  decisions(): ArbiterDecision[]
}

export function createArbiterRole(options: ArbiterRoleOptions, components: RoleComponents): ArbiterRole {
  const { chain } = components
  const ctx: DisputeContext = {
    components,
    options,
    metrics: createRoleMetrics(components.metrics),
    log: components.logger.child({ role: 'arbiter' }),
    peerWaitStarted: new Map(),
    decisions: [],
  }
  const { log } = ctx
  const pending = new Set<Hex>()
  const resolving = new Map<Hex, Promise<void>>()
  const unsubscribers: Array<() => void> = []

  function startResolve(jobId: Hex): void {
    pending.add(jobId)
    if (resolving.has(jobId)) return
    const run = resolveDispute(ctx, jobId)
      .then(() => void pending.delete(jobId))
      .catch((err: unknown) => log.warn({ jobId, err }, 'resolving the dispute failed; will retry'))
      .finally(() => resolving.delete(jobId))
    resolving.set(jobId, run)
  }

  function onEvents(events: ProtocolEvent[]): void {
    for (const event of events) if (event.eventName === 'Challenged') startResolve(event.args.jobId)
  }

  async function tick(): Promise<void> {
    for (const jobId of pending) if (!resolving.has(jobId)) startResolve(jobId)
  }

  const ticker = createTicker(ctx.options.tickIntervalMs * 5, tick, log)

  return {
    role: 'arbiter',
    async start() {
      unsubscribers.push(chain.onEvents(onEvents))
      // disputes opened while this node was down
      const logs = await chain.client.getContractEvents({
        address: chain.deployment.addresses.jobMarket,
        abi: jobMarketAbi,
        eventName: 'Challenged',
        fromBlock: chain.deployment.deployBlock,
      })
      for (const l of logs) if (l.args.jobId !== undefined) pending.add(l.args.jobId)
      ticker.start()
    },
    async stop() {
      for (const off of unsubscribers.splice(0)) off()
      await ticker.stop()
      await Promise.allSettled([...resolving.values()])
    },
    tick: () => ticker.now(),
    decisions: () => [...ctx.decisions],
  }
}
