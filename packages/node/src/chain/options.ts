export interface ChainServiceOptions {
  /** blocks on top of an event's block before the roles act on it */
  confirmations: number
  /** how often the event watcher polls the RPC endpoint */
  pollIntervalMs: number
  /** a single RPC request gives up after this */
  rpcTimeoutMs: number
  /** how long a ModelRegistry status read is reused (see chain/models.ts) */
  modelStatusTtlMs: number
}

export const defaultChainServiceOptions: ChainServiceOptions = {
  confirmations: 1,
  pollIntervalMs: 500,
  rpcTimeoutMs: 10_000,
  modelStatusTtlMs: 5_000,
}
