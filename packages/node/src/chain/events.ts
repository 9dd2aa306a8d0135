/**
 * Protocol events for the roles: an event watcher on the deployment's contracts, polled on
 * a timer, whose cursor is saved in the StateStore after every poll so a restarted node
 * resumes where it stopped.
 *
 * Every listener runs before the cursor moves on, so an event is delivered at least once
 * across restarts. Listeners must be idempotent and quick.
 *
 * The poll interval adapts: `pollIntervalMs` while the node has work in flight (an open job
 * of its own in the state store, a work probe that says so) or saw a protocol event or a job
 * write in the last `activeWindowMs`; otherwise each wait doubles up to `idlePollIntervalMs`.
 * A job write (a bid recorded, a job submitted) wakes a backed-off feed at once, so a role
 * with an open job never waits more than `pollIntervalMs` for the chain. What an idle node
 * can receive late, by at most `idlePollIntervalMs`, is the first event after a quiet spell
 * that it has no open job for (a stranger's award, which a verifier starts watching from).
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
import { isTerminalJobState } from '../state/job-state.js'
import type { JobRecord } from '../state/records.js'
import type { StateStore } from '../state/store.js'
import type { OcnChainClient } from './client.js'
import { ChainServiceError } from './errors.js'
import type { ChainServiceOptions } from './options.js'

export type ProtocolEventListener = (events: ProtocolEvent[]) => Promise<void> | void

export interface ProtocolEventFeedComponents {
  state: StateStore
  log: Logger
}

export type ProtocolEventFeedOptions = Pick<
  ChainServiceOptions,
  'confirmations' | 'pollIntervalMs' | 'idlePollIntervalMs' | 'activeWindowMs'
>

/** A job a role still acts on: `expired` and `failed` ones come back only as a new write. */
function isOpenJob(job: JobRecord): boolean {
  return !isTerminalJobState(job.state) && job.state !== 'expired' && job.state !== 'failed'
}

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
  /** ids of this node's open jobs (any role), kept from the state store's writes */
  private readonly openJobs = new Set<string>()
  private readonly workProbes = new Set<() => boolean>()
  private unwatchJobs: (() => void) | undefined
  /** when a protocol event or a job write last happened (ms) */
  private lastActivity = 0
  /** the wait before the next poll; doubles while idle */
  private delay: number
  /** when the scheduled poll runs (ms), to pull it forward on a wake */
  private dueAt = 0
  /** a poll has run whole since watch(): later events are news, not history */
  private caughtUp = false

  constructor(
    private readonly components: ProtocolEventFeedComponents,
    private readonly options: ProtocolEventFeedOptions,
  ) {
    this.delay = options.pollIntervalMs
  }

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
    this.caughtUp = false
    await this.trackOpenJobs()
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

  /** Polls until stopped: every `pollIntervalMs` while there is work, backing off while idle. */
  pollContinuously(): void {
    void this.loop()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.unwatchJobs?.()
    this.unwatchJobs = undefined
    await this.polling?.catch(() => {})
  }

  /**
   * Keeps the polls prompt while `probe` returns true (work that no job record shows, e.g. a
   * jury seat); returns the removal. Probes run once per idle poll and must be cheap.
   */
  addWorkProbe(probe: () => boolean): () => void {
    this.workProbes.add(probe)
    return () => this.workProbes.delete(probe)
  }

  /** Work has started that chain events will answer: poll at `pollIntervalMs` from now on. */
  wake(): void {
    this.lastActivity = Date.now()
    this.delay = this.options.pollIntervalMs
    if (this.stopped || this.timer === undefined) return
    if (this.dueAt - Date.now() <= this.options.pollIntervalMs) return
    clearTimeout(this.timer)
    this.schedule(this.options.pollIntervalMs)
  }

  /** The wait before the next poll: prompt while there is work, doubling while idle. */
  nextDelay(now = Date.now()): number {
    const busy =
      now - this.lastActivity < this.options.activeWindowMs ||
      this.openJobs.size > 0 ||
      [...this.workProbes].some((probe) => probe())
    this.delay = busy
      ? this.options.pollIntervalMs
      : Math.min(this.delay * 2, Math.max(this.options.idlePollIntervalMs, this.options.pollIntervalMs))
    return this.delay
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
    if (!this.stopped) this.schedule(this.nextDelay())
  }

  private schedule(delayMs: number): void {
    this.dueAt = Date.now() + delayMs
    this.timer = setTimeout(() => this.loop(), delayMs)
  }

  /** Follows this node's open jobs through the state store; any job write wakes the feed. */
  private async trackOpenJobs(): Promise<void> {
    this.unwatchJobs?.()
    this.openJobs.clear()
    // subscribe first: a write during the listing is not lost
    this.unwatchJobs = this.components.state.onJobWritten((job) => {
      if (isOpenJob(job)) this.openJobs.add(job.id)
      else this.openJobs.delete(job.id)
      this.wake()
    })
    for (const job of await this.components.state.listJobs()) if (isOpenJob(job)) this.openJobs.add(job.id)
  }

  private async pollOnce(): Promise<number> {
    const { watcher, client } = this
    if (watcher === undefined || client === undefined) {
      throw new ChainServiceError('CHAIN_NOT_STARTED', 'the chain service is not started')
    }
    // An idle chain: while the head stays where the last whole poll saw it, no block has
    // newly reached its confirmations, so there is nothing to deliver. One eth_blockNumber
    // instead of the watcher's reads (reorg check, the range end's hash twice, the logs) and a
    // state write, every poll of every node (a node's main idle cost, measured by profiling);
    // the watcher reuses this head. A reorg that keeps the head's height is then seen one block
    // later, when the head moves and the watcher compares the cursor block's hash again.
    const head = await client.getBlockNumber({ cacheTime: 0 })
    if (head === this.lastPolledHead) return 0
    const count = await watcher.poll({ head })
    // only a poll that reached this head's confirmed block lets the next ones skip: one that
    // stopped short (a block hash that changed under it) must run again though the head stays
    const confirmed = head - BigInt(this.options.confirmations)
    const reached = watcher.cursor !== undefined && watcher.cursor.blockNumber >= confirmed
    this.lastPolledHead = reached ? head : undefined
    this.caughtUp ||= reached
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
    // a market that moves on chain may soon move for this node: stay prompt for a while. The
    // first poll after a start catches up on history, which says nothing about now.
    if (this.caughtUp) this.lastActivity = Date.now()
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
