export interface ChainServiceOptions {
  /** blocks on top of an event's block before the roles act on it */
  confirmations: number
  /** how often the event watcher polls the RPC endpoint while this node has work in flight */
  pollIntervalMs: number
  /**
   * the longest wait between polls of an idle node: no open job of its own, no protocol event
   * and no local job write for `activeWindowMs`. The wait doubles from `pollIntervalMs` up to
   * this; equal to `pollIntervalMs`, the feed never backs off.
   */
  idlePollIntervalMs: number
  /** after a protocol event or a job write, polls stay at `pollIntervalMs` this long */
  activeWindowMs: number
  /** a single RPC request gives up after this */
  rpcTimeoutMs: number
  /** how long a ModelRegistry status read is reused (see chain/models.ts) */
  modelStatusTtlMs: number
}

export const defaultChainServiceOptions: ChainServiceOptions = {
  confirmations: 1,
  pollIntervalMs: 500,
  idlePollIntervalMs: 2_000,
  activeWindowMs: 15_000,
  rpcTimeoutMs: 10_000,
  modelStatusTtlMs: 5_000,
}
