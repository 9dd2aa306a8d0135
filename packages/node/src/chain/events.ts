/**
 * Protocol events for the roles: an event watcher on the deployment's contracts, polled on
 * a timer, whose cursor is saved in the StateStore after every poll so a restarted node
 * resumes where it stopped.
 *
 * Every listener runs before the cursor moves on, so an event is delivered at least once
 * across restarts. Listeners must be idempotent and quick.
 */
import {
  createEventWatcher,
  type Deployment,
  type EventWatcher,
  type ProtocolEvent,
  type WatcherCursor,
} from '@ocn/contracts-client'
import type { Hash } from 'viem'
import type { Logger } from '../core/logger.js'
import type { StateStore } from '../state/store.js'
import type { OcnChainClient } from './client.js'
import { ChainServiceError } from './errors.js'
import type { ChainServiceOptions } from './options.js'

export type ProtocolEventListener = (events: ProtocolEvent[]) => Promise<void> | void

export interface ProtocolEventFeedComponents {
  state: StateStore
  log: Logger
}

export type ProtocolEventFeedOptions = Pick<ChainServiceOptions, 'confirmations' | 'pollIntervalMs'>

/** The watcher position to resume from: the whole saved block was processed before it was saved. */
function resumeCursor(
  saved: { blockNumber: bigint; blockHash?: string | undefined } | undefined,
  deployBlock: bigint,
): WatcherCursor | undefined {
  if (saved?.blockHash === undefined || saved.blockNumber < deployBlock) return undefined
  return {
    blockNumber: saved.blockNumber,
    blockHash: saved.blockHash as Hash,
    logIndex: Number.MAX_SAFE_INTEGER,
  }
}

function sameCursor(a: WatcherCursor, b: WatcherCursor | undefined): boolean {
  return (
    b !== undefined &&
    a.blockNumber === b.blockNumber &&
    a.logIndex === b.logIndex &&
    a.blockHash === b.blockHash
  )
}

export class ProtocolEventFeed {
  private readonly listeners = new Set<ProtocolEventListener>()
  private watcher: EventWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<number> | undefined
  private stopped = true
  private client: OcnChainClient | undefined
  /** the chain head when the last poll ran whole: while it stays, nothing new is confirmed */
  private lastPolledHead: bigint | undefined
  /** the cursor last written to the state store, so an unchanged one is not written again */
  private persisted: WatcherCursor | undefined

  constructor(
    private readonly components: ProtocolEventFeedComponents,
    private readonly options: ProtocolEventFeedOptions,
  ) {}

  get running(): boolean {
    return !this.stopped
  }

  subscribe(listener: ProtocolEventListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Watches the deployment's JobMarket, StakeManager and DisputeCourt from the saved cursor (or the
   * deploy block) and marks the feed running; returns the block it resumes from.
   */
  async watch(client: OcnChainClient, deployment: Deployment): Promise<bigint> {
    const saved = await this.components.state.getChainCursor()
    const cursor = resumeCursor(saved, deployment.deployBlock)
    this.client = client
    this.persisted = cursor
    this.lastPolledHead = undefined
    this.watcher = createEventWatcher({
      client,
      addresses: [
        deployment.addresses.jobMarket,
        deployment.addresses.stakeManager,
        ...(deployment.addresses.disputeCourt === undefined ? [] : [deployment.addresses.disputeCourt]),
      ],
      fromBlock: deployment.deployBlock,
      confirmations: this.options.confirmations,
      pollIntervalMs: this.options.pollIntervalMs,
      ...(cursor === undefined ? {} : { cursor }),
      onEvents: (events) => this.deliver(events),
      onReorg: (info) =>
        this.components.log.warn({ rewoundTo: info.rewoundTo }, 'chain reorganisation; replaying events'),
    })
    this.stopped = false
    return saved?.blockNumber ?? deployment.deployBlock
  }

  /** Polls every `pollIntervalMs` until stopped. */
  pollContinuously(): void {
    void this.loop()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.polling?.catch(() => {})
  }

  poll(): Promise<number> {
    // One poll at a time. A caller arriving while one runs gets a fresh poll queued after
    // it, not the running one: that may have read the chain head before the caller's own
    // transaction was mined, and "poll() saw everything up to now" is what callers rely on.
    const previous = this.polling
    const run: Promise<number> = (
      previous === undefined ? this.pollOnce() : previous.catch(() => 0).then(() => this.pollOnce())
    ).finally(() => {
      if (this.polling === run) this.polling = undefined
    })
    this.polling = run
    return run
  }

  private async loop(): Promise<void> {
    if (this.stopped) return
    await this.poll().catch((err: unknown) =>
      this.components.log.warn({ err }, 'event watcher poll failed; retrying'),
    )
    if (!this.stopped) this.timer = setTimeout(() => this.loop(), this.options.pollIntervalMs)
  }

  private async pollOnce(): Promise<number> {
    const { watcher, client } = this
    if (watcher === undefined || client === undefined) {
      throw new ChainServiceError('CHAIN_NOT_STARTED', 'the chain service is not started')
    }
    // An idle chain: while the head stays where the last whole poll saw it, no block has
    // newly reached its confirmations, so there is nothing to deliver. One eth_blockNumber
    // instead of the watcher's five reads (reorg check, head, the range end's hash twice,
    // the logs) and a state write, every poll of every node (a node's main idle cost, measured
    // by profiling). A reorg that keeps the head's height is then seen one block later, when
    // the head moves and the watcher compares the cursor block's hash again.
    const head = await client.getBlockNumber({ cacheTime: 0 })
    if (head === this.lastPolledHead) return 0
    const count = await watcher.poll()
    // only a poll that reached this head's confirmed block lets the next ones skip: one that
    // stopped short (a block hash that changed under it) must run again though the head stays
    const confirmed = head - BigInt(this.options.confirmations)
    const reached = watcher.cursor !== undefined && watcher.cursor.blockNumber >= confirmed
    this.lastPolledHead = reached ? head : undefined
    await this.persistCursor(watcher.cursor)
    return count
  }

  private async persistCursor(cursor: WatcherCursor | undefined): Promise<void> {
    if (cursor === undefined || sameCursor(cursor, this.persisted)) return
    await this.components.state.setChainCursor({
      blockNumber: cursor.blockNumber,
      blockHash: cursor.blockHash,
      updatedAt: Date.now(),
    })
    this.persisted = cursor
  }

  private async deliver(events: ProtocolEvent[]): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(events)
      } catch (err) {
        // a failing role must not stop the others or wedge the cursor forever
        this.components.log.error({ err }, 'protocol event listener failed')
      }
    }
  }
}
