/**
 * Protocol event watcher. Polls `eth_getLogs` over block ranges (no server-side filters,
 * which many RPC endpoints drop or forget), delivers events only once they have
 * `confirmations` blocks on top, and keeps a cursor the caller can persist:
 * `{ blockNumber, logIndex, blockHash }` of the last delivered position.
 *
 * Reorgs: before each poll the hash of the cursor block is compared with the chain's. When
 * it differs, the watcher walks back through the block hashes it has delivered to the
 * newest one still on the chain (or `maxReorgDepth` blocks when it has no history, e.g.
 * after a restart), calls `onReorg` so the consumer can drop what it derived from the
 * orphaned blocks, and replays from there. Consumers must therefore be idempotent per
 * (blockHash, logIndex) or undo on `onReorg`.
 */
import { type Address, type Hash, type Log, parseEventLogs } from 'viem'
import { getBlock, getBlockNumber, getLogs } from 'viem/actions'
import { toContractsClientError, WatcherError } from './errors.js'
import { disputeCourtAbi, jobMarketAbi, stakeManagerAbi } from './generated/abis.js'
import type { ProtocolReadClient } from './types.js'

/** The events of the JobMarket, the StakeManager and the DisputeCourt (their names do not overlap). */
export const protocolEventsAbi = [...jobMarketAbi, ...stakeManagerAbi, ...disputeCourtAbi].filter(
  (i) => i.type === 'event',
)

export interface WatcherCursor {
  /** last block whose events up to `logIndex` were delivered */
  blockNumber: bigint
  /** highest delivered log index in that block (-1: none); later logs of the block are still due */
  logIndex: number
  blockHash: Hash
}

export type ProtocolEvent = ReturnType<typeof parseEventLogs<typeof protocolEventsAbi>>[number] & {
  blockNumber: bigint
  blockHash: Hash
  logIndex: number
}

export interface ReorgInfo {
  /** the cursor that pointed at an orphaned block */
  orphanedCursor: WatcherCursor
  /** events after this block will be replayed; everything derived from later blocks is stale */
  rewoundTo: bigint
}

export interface EventWatcherOptions {
  /** blocks on top of a block before its events are delivered (0: deliver at the head) */
  confirmations: number
  pollIntervalMs: number
  /** largest block range per eth_getLogs */
  maxBlockRange: bigint
  /** how far to rewind when a reorg hits a block with no remembered hash */
  maxReorgDepth: bigint
}

export const defaultEventWatcherOptions: EventWatcherOptions = {
  confirmations: 2,
  pollIntervalMs: 1000,
  maxBlockRange: 2000n,
  maxReorgDepth: 64n,
}

export interface EventWatcherInit extends Partial<EventWatcherOptions> {
  client: ProtocolReadClient
  /** contracts whose events to watch (the StakeManager, the JobMarket and the DisputeCourt) */
  addresses: Address[]
  /** start here when there is no cursor (usually the deployment block) */
  fromBlock: bigint
  /** resume after this position (persisted from an earlier run) */
  cursor?: WatcherCursor
  /** receives events in chain order; the cursor advances only after it resolves */
  onEvents: (events: ProtocolEvent[], cursor: WatcherCursor) => Promise<void> | void
  onReorg?: (info: ReorgInfo) => Promise<void> | void
  /** errors of background polling (the watcher keeps polling) */
  onError?: (err: Error) => void
}

export interface EventWatcher {
  /**
   * one poll: reorg check, then deliver every confirmed block; returns events delivered.
   * `head`: the chain head the caller has just read, so the poll does not read it again.
   */
  poll(options?: { signal?: AbortSignal; head?: bigint }): Promise<number>
  start(): void
  stop(): Promise<void>
  readonly cursor: WatcherCursor | undefined
}

export function createEventWatcher(init: EventWatcherInit): EventWatcher {
  const opts: EventWatcherOptions = {
    confirmations: init.confirmations ?? defaultEventWatcherOptions.confirmations,
    pollIntervalMs: init.pollIntervalMs ?? defaultEventWatcherOptions.pollIntervalMs,
    maxBlockRange: init.maxBlockRange ?? defaultEventWatcherOptions.maxBlockRange,
    maxReorgDepth: init.maxReorgDepth ?? defaultEventWatcherOptions.maxReorgDepth,
  }
  if (opts.maxBlockRange < 1n) throw new WatcherError('maxBlockRange must be at least 1')
  const { client } = init
  let cursor: WatcherCursor | undefined = init.cursor
  // hashes of blocks we delivered up to (range ends), to find the fork point after a reorg
  const delivered = new Map<bigint, Hash>()
  if (cursor) delivered.set(cursor.blockNumber, cursor.blockHash)
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<unknown> | undefined
  let stopped = true

  const blockHash = async (blockNumber: bigint): Promise<Hash | undefined> => {
    const block = await getBlock(client, { blockNumber }).catch((err: unknown) => {
      // a block above the new head after a reorg to a shorter chain does not exist
      if (/not found|could not be found/i.test(String((err as Error)?.message))) return undefined
      throw err
    })
    return block?.hash ?? undefined
  }

  const rememberDelivered = (c: WatcherCursor) => {
    delivered.set(c.blockNumber, c.blockHash)
    // keep the map small: hashes older than the reorg depth are never needed
    for (const n of delivered.keys()) if (n + opts.maxReorgDepth * 2n < c.blockNumber) delivered.delete(n)
  }

  async function checkReorg(): Promise<void> {
    if (!cursor) return
    const current = await blockHash(cursor.blockNumber)
    if (current === cursor.blockHash) return
    const orphanedCursor = cursor
    const known = [...delivered.keys()]
      .filter((n) => n < cursor!.blockNumber)
      .sort((a, b) => (a > b ? -1 : 1))
    let rewoundTo: bigint | undefined
    let rewoundHash: Hash | undefined
    for (const n of known) {
      const h = await blockHash(n)
      if (h !== undefined && h === delivered.get(n)) {
        rewoundTo = n
        rewoundHash = h
        break
      }
      delivered.delete(n)
    }
    delivered.delete(orphanedCursor.blockNumber)
    if (rewoundTo === undefined || rewoundHash === undefined) {
      const floor =
        orphanedCursor.blockNumber > opts.maxReorgDepth ? orphanedCursor.blockNumber - opts.maxReorgDepth : 0n
      rewoundTo = floor < init.fromBlock ? init.fromBlock - 1n : floor
      rewoundHash = rewoundTo >= 0n ? ((await blockHash(rewoundTo)) ?? ('0x' as Hash)) : ('0x' as Hash)
    }
    // the rewound-to block was delivered whole: skip all its logs on the re-query
    cursor =
      rewoundTo < init.fromBlock
        ? undefined
        : { blockNumber: rewoundTo, logIndex: Number.MAX_SAFE_INTEGER, blockHash: rewoundHash }
    await init.onReorg?.({ orphanedCursor, rewoundTo })
  }

  async function poll(options: { signal?: AbortSignal; head?: bigint } = {}): Promise<number> {
    try {
      await checkReorg()
      const head = options.head ?? (await getBlockNumber(client, { cacheTime: 0 }))
      const safe = head - BigInt(opts.confirmations)
      let count = 0
      for (;;) {
        options.signal?.throwIfAborted()
        // The cursor block is queried again and its logs up to cursor.logIndex skipped, so a
        // cursor taken in the middle of a block resumes exactly where it stopped.
        const from = cursor ? cursor.blockNumber : init.fromBlock
        if (from > safe) break
        const to = from + opts.maxBlockRange < safe ? from + opts.maxBlockRange : safe
        const endHash = await blockHash(to)
        if (endHash === undefined) break
        const logs = await getLogs(client, { address: init.addresses, fromBlock: from, toBlock: to })
        // the range must still end in the block we saw, or the logs may mix two forks
        if ((await blockHash(to)) !== endHash) break
        if (logs.some((l) => l.blockNumber === to && l.blockHash !== endHash)) break
        const skipUpTo = cursor ? cursor.logIndex : -1
        const fresh = (logs as Log[]).filter(
          (l) =>
            l.blockNumber !== null &&
            l.logIndex !== null &&
            !(l.blockNumber === from && l.logIndex <= skipUpTo),
        )
        const events = parseEventLogs({
          abi: protocolEventsAbi,
          logs: fresh,
          strict: true,
        }) as ProtocolEvent[]
        const lastInEnd = logs.filter((l) => l.blockNumber === to).at(-1)
        const previous = cursor && cursor.blockNumber === to ? cursor.logIndex : -1
        const next: WatcherCursor = {
          blockNumber: to,
          logIndex: Math.max(lastInEnd?.logIndex ?? -1, previous),
          blockHash: endHash,
        }
        if (events.length > 0) await init.onEvents(events, next)
        cursor = next
        rememberDelivered(next)
        count += events.length
        if (to === safe) break
      }
      return count
    } catch (err) {
      if (err instanceof WatcherError) throw err
      const cause = toContractsClientError(err, 'eth_getLogs')
      throw new WatcherError('event watcher poll failed', { details: cause.shortMessage, cause })
    }
  }

  const loop = async () => {
    if (stopped) return
    running = poll().catch((err: unknown) => init.onError?.(err as Error))
    await running
    if (!stopped) timer = setTimeout(loop, opts.pollIntervalMs)
  }

  return {
    poll,
    start() {
      if (!stopped) return
      stopped = false
      void loop()
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
    get cursor() {
      return cursor
    },
  }
}
