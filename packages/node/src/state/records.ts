import type { NodeRole } from '../config/options.js'
import type { JobDetail } from './job-detail.js'
import type { JobState } from './job-state.js'

export type JobKind = 'inference' | 'training'
export type VerificationMode = 'replay' | 'zk'

export interface JobHistoryEntry {
  state: JobState
  /** Unix milliseconds. */
  at: number
  /** Transaction that caused or recorded the transition, if any. */
  txHash?: string
  note?: string
}

/** The on-chain actions a node records as intents before it sends their transactions. */
export type ChainAction =
  | 'commit'
  | 'zkCommit'
  | 'finalize'
  | 'award'
  | 'expire'
  | 'challenge'
  /** a juror's sealed vote (recorded on the vote's own record, not the job's intent) */
  | 'vote'

/**
 * An on-chain action this node decided on, written before its transaction is sent and dropped
 * by the transition that records its outcome: a node restarted with an intent pending knows
 * a transaction may be in flight (its hash, once sent) and asks the chain before acting again.
 */
export interface ChainIntent {
  action: ChainAction
  /** Unix milliseconds the intent was recorded. */
  recordedAt: number
  /** The transaction's hash, recorded as soon as it was sent (before its receipt). */
  txHash?: string
}

/**
 * One job as this node sees it. `role` says which side the node is on; ids and hashes are
 * 0x-hex strings as they appear on-chain and on the wire; amounts are bigints in token base
 * units. `detail` carries the role's own data (src/state/job-detail.ts), tagged with the role
 * and read through that role's accessor.
 */
export interface JobRecord {
  id: string
  role: NodeRole
  state: JobState
  kind: JobKind
  verification: VerificationMode
  modelHash?: string
  inputHash?: string
  requester?: string
  provider?: string
  maxPrice?: bigint
  price?: bigint
  collateral?: bigint
  resultRoot?: string
  /** How many times the job was (re-)offered. */
  attempts: number
  createdAt: number
  updatedAt: number
  history: JobHistoryEntry[]
  detail?: JobDetail
  /** The on-chain action in flight for this job, if any (see ChainIntent). */
  intent?: ChainIntent | undefined
}

export type BidStatus = 'sent' | 'received' | 'accepted' | 'rejected'

export interface BidRecord {
  jobId: string
  /** Unique per job, e.g. the bid's EIP-712 digest. */
  bidId: string
  provider: string
  peerId?: string
  price: bigint
  collateral: bigint
  etaMs?: number
  signature?: string
  status: BidStatus
  receivedAt: number
}

/** The last chain position whose events the node has fully processed. */
export interface ChainCursor {
  blockNumber: bigint
  blockHash?: string
  updatedAt: number
}

/** The fields a caller supplies for a new job; bookkeeping fields are filled in. */
export type NewJobRecord = Omit<JobRecord, 'attempts' | 'createdAt' | 'updatedAt' | 'history'> &
  Partial<Pick<JobRecord, 'attempts' | 'createdAt' | 'updatedAt' | 'history'>>

/** Fields a transition may change alongside the state; identity fields stay fixed. */
export type JobPatch = Partial<
  Omit<JobRecord, 'id' | 'role' | 'state' | 'history' | 'createdAt' | 'updatedAt'>
>
