/**
 * What the node's API carries, as JSON: amounts (bigints on the node) arrive as decimal
 * strings; this client turns the ones it reads into bigints where it says so. These shapes
 * mirror @ocn/node's api/interface.ts and state/records.ts; the client's tests check them
 * against a real node.
 */
export const jobStates = [
  'offered',
  'bidding',
  'awarded',
  'executing',
  'committed',
  'challenged',
  'finalized',
  'expired',
  'slashed',
  'failed',
] as const
export type JobState = (typeof jobStates)[number]

/** States after which nothing moves: money has moved. */
export const settledJobStates: readonly JobState[] = ['finalized', 'slashed']

export type NodeRole = 'provider' | 'requester' | 'verifier'
/** Job kinds the node takes today; the union widens as the protocol adds kinds. */
export type JobKind = 'inference' | 'training'
export type VerificationMode = 'replay' | 'zk'
/** A bigint as the API's JSON carries it. */
export type DecimalString = string

export interface JobHistoryEntry {
  state: JobState
  at: number
  txHash?: string
  note?: string
}

export interface Job {
  id: string
  role: NodeRole
  state: JobState
  kind: JobKind
  verification: VerificationMode
  modelHash?: string
  inputHash?: string
  requester?: string
  provider?: string
  maxPrice?: DecimalString
  price?: DecimalString
  collateral?: DecimalString
  resultRoot?: string
  attempts: number
  createdAt: number
  updatedAt: number
  history: JobHistoryEntry[]
  /** The role's own data (progress, results, checks); its shape depends on `role`. */
  detail?: Record<string, unknown>
}

export interface Bid {
  jobId: string
  bidId: string
  provider: string
  peerId?: string
  price: DecimalString
  collateral: DecimalString
  etaMs?: number
  status: 'sent' | 'received' | 'accepted' | 'rejected'
  receivedAt: number
}

export interface NodeStatus {
  version: string
  roles: NodeRole[]
  address?: string
  peerId?: string
  startedAt: number
  uptimeMs: number
  services: Record<string, 'running' | 'stopped' | 'absent'>
  chain?: { rpcUrl: string; chainId?: number; blockNumber?: DecimalString; cursor?: DecimalString }
  network?: { listen: string[]; peers: number }
  jobs: Partial<Record<JobState, number>>
}

export interface Peer {
  peerId: string
  addresses: string[]
  protocols?: string[]
  latencyMs?: number
}

export interface Offer {
  jobId: string
  requester: string
  kind: JobKind
  verification: VerificationMode
  maxPrice: DecimalString
  minStake?: DecimalString
  biddingEndsAt?: number
  receivedAt: number
}

/** Balances of the node account, in base units. */
export interface Balances {
  address: string
  native: bigint
  token: bigint
  staked: bigint
  locked: bigint
  escrowed?: bigint
}

export interface ResultFile {
  name: string
  bytes: number
  /** 0x-hex SHA-256 of the file's bytes. */
  hash?: string
}

export interface JobResults {
  jobId: string
  state: JobState
  resultRoot?: string
  files: ResultFile[]
}

interface SubmitCommon {
  /** Absolute paths on the node's machine: the node reads the files, nothing is uploaded. */
  modelPath: string
  inputsPath: string
  verification?: VerificationMode
  /** The most the requester pays, in OPEN base units. */
  maxPrice?: bigint
  microBatchSize?: number
}

export interface InferenceJobRequest extends SubmitCommon {
  kind: 'inference'
}

export interface TrainingJobRequest extends SubmitCommon {
  kind: 'training'
  trainingSpecPath: string
  datanetManifestPath?: string
}

/** One job to put on the market; a new kind is a new member of this union. */
export type SubmitJobRequest = InferenceJobRequest | TrainingJobRequest

export interface StakeResult {
  transaction: string
  balances: Balances
}

/** What following a job yields: its record each time the node writes it. */
export type JobEvent = { type: 'snapshot'; job: Job } | { type: 'update'; job: Job; previous: JobState }
