import type { Account, Address, Chain, Client, Hash, TransactionReceipt, Transport } from 'viem'

/** Addresses of one deployment of the protocol. */
export interface ProtocolAddresses {
  accessManager: Address
  token: Address
  stakeManager: Address
  jobMarket: Address
  /** model artifact -> model commitment and Groth16 verifier, for zk-mode jobs */
  zkVerifierRegistry: Address
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
}

/** Job status as JobMarket.JobStatus stores it. */
export const JobStatus = {
  none: 0,
  awarded: 1,
  committed: 2,
  challenged: 3,
  finalized: 4,
  providerSlashed: 5,
  expired: 6,
} as const
export type JobStatus = keyof typeof JobStatus
export const jobStatusName = Object.fromEntries(Object.entries(JobStatus).map(([k, v]) => [v, k])) as Record<
  number,
  JobStatus
>

/** AccessManager roles the deployment wires (0 is AccessManager's own admin role). */
export const ProtocolRole = {
  admin: 0n,
  arbiter: 1n,
  parameters: 2n,
} as const
