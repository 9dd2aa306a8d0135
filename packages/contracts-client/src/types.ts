import type { Account, Address, Chain, Client, Hash, TransactionReceipt, Transport } from 'viem'

/** Addresses of one deployment of the protocol. */
export interface ProtocolAddresses {
  accessManager: Address
  token: Address
  stakeManager: Address
  jobMarket: Address
  /** model artifact -> model commitment and Groth16 verifier, for zk-mode jobs */
  zkVerifierRegistry: Address
  /** model content hash -> storage pointer, spec/eval hashes, owner, curation status; absent in
   * deployment files written before it existed */
  modelRegistry?: Address
  /** model id -> attribution weights root, fee rounds, claims; the JobMarket routes
   * `attributionShareBps` of paid-out jobs there; absent in files written before it existed */
  attributionPool?: Address
  /** the dispute game (challenges, jury, appeals); absent in files written before it existed */
  disputeCourt?: Address
  /** datanets, staked contributions, attribution from finalized jobs; absent in files written before it existed */
  datanetRegistry?: Address
  /** suspends models whose jobs lose too many disputes; absent in files written before it existed */
  modelMonitor?: Address
}

/** A client that can read (any viem Client works with the actions here). */
export type ProtocolReadClient = Client<Transport, Chain | undefined, Account | undefined>

/** A client with a local or JSON-RPC account that signs transactions. */
export type ProtocolWalletClient = Client<Transport, Chain | undefined, Account>

/** What every write action returns: the mined transaction. */
export interface WriteResult {
  hash: Hash
  receipt: TransactionReceipt
}

/** Common knobs of write actions. */
export interface WriteOptions {
  /** overrides the estimate; tests and benchmarks keep it undefined */
  gas?: bigint
  /**
   * Called with the transaction's hash as soon as it is sent, before its receipt: a caller
   * that records it survives a crash while the transaction is pending.
   */
  onSent?: (hash: Hash) => void | Promise<void>
}

/** Job status as JobMarket.JobStatus stores it. */
export const JobStatus = {
  none: 0,
  awarded: 1,
  committed: 2,
  finalized: 3,
  providerSlashed: 4,
  expired: 5,
} as const
export type JobStatus = keyof typeof JobStatus
export const jobStatusName = Object.fromEntries(Object.entries(JobStatus).map(([k, v]) => [v, k])) as Record<
  number,
  JobStatus
>

/** AccessManager roles the deployment wires (0 is AccessManager's own admin role). */
export const ProtocolRole = {
  admin: 0n,
  /** 1 was the interim single-key ARBITER role, gone with the DisputeCourt: never reused */
  parameters: 2n,
  /** ModelRegistry status changes; 3 is the governance OPERATIONS role */
  modelCurator: 4n,
  /** `AttributionPool.setWeights` (who commits a model's attribution weights) */
  attribution: 5n,
  /** the JobMarket's court hooks (`holdForDispute`, `releaseDispute`, `convict`): the DisputeCourt only */
  court: 6n,
  /** `ModelRegistry.suspendModel`: the ModelMonitor contract only */
  modelMonitor: 7n,
} as const

/** Model status as ModelRegistry.ModelStatus stores it. */
export const ModelStatus = {
  none: 0,
  proposed: 1,
  approved: 2,
  deprecated: 3,
  revoked: 4,
  /** the ModelMonitor suspended it (too many lost disputes) until governance reinstates it */
  suspended: 5,
} as const
export type ModelStatus = keyof typeof ModelStatus
export const modelStatusName = Object.fromEntries(
  Object.entries(ModelStatus).map(([k, v]) => [v, k]),
) as Record<number, ModelStatus>
