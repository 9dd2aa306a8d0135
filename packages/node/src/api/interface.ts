import type { NodeRole } from '../config/options.js'
import type { JobState } from '../state/job-state.js'
import type { BidRecord, JobKind, JobRecord, VerificationMode } from '../state/records.js'

/** Whether each part of the daemon runs; `absent` means this daemon was built without it. */
export type ServiceState = 'running' | 'stopped' | 'absent'

export interface NodeStatus {
  version: string
  roles: NodeRole[]
  address?: string
  peerId?: string
  startedAt: number
  uptimeMs: number
  services: Record<string, ServiceState>
  chain?: { rpcUrl: string; chainId?: number; blockNumber?: bigint; cursor?: bigint }
  network?: { listen: string[]; peers: number }
  /** Number of jobs in each state in the local store. */
  jobs: Partial<Record<JobState, number>>
}

export interface PeerSummary {
  peerId: string
  addresses: string[]
  protocols?: string[]
  latencyMs?: number
}

/** An offer seen on gossip and not yet expired. */
export interface OfferSummary {
  jobId: string
  requester: string
  kind: JobKind
  verification: VerificationMode
  maxPrice: bigint
  minStake?: bigint
  biddingEndsAt?: number
  receivedAt: number
}

export interface Balances {
  address: string
  /** Native coin for gas, in wei. */
  native: bigint
  /** OPEN tokens held, in base units. */
  token: bigint
  staked: bigint
  /** Part of the stake locked as collateral of running jobs. */
  locked: bigint
  escrowed?: bigint
}

export interface ApiJobQuery {
  state?: JobState
  role?: NodeRole
  limit?: number
}

/** The body of `POST /jobs`: files are paths on the node's machine, never uploaded bytes. */
export interface SubmitJobRequest {
  modelPath: string
  inputsPath: string
  kind: JobKind
  trainingSpecPath?: string
  /** the datanet manifest of a training spec that names attribution */
  datanetManifestPath?: string
  verification: VerificationMode
  maxPrice?: bigint
  microBatchSize?: number
  /**
   * Per input: its batch axis, or 'broadcast' for one every micro-batch (or chunk) gets whole;
   * inputs left out are inferred from the model (CLI: --input-axis name=axis|broadcast)
   */
  inputAxes?: Record<string, number | 'broadcast'>
  /**
   * A stateful sequence job (executor/sequence.ts): the model's state outputs and the inputs
   * they feed at the next chunk (CLI: --state output=input)
   */
  state?: { output: string; input: string }[]
  /**
   * A generate job (executor/generate/*): the inputs are input_ids (and attention_mask) of a
   * decoder in the export layout (CLI: --generate <max new tokens>, --stop-token,
   * --temperature, --top-k, --top-p, --seed)
   */
  generate?: GenerateRequest
}

/** A generate job's decoding, as a client asks for it (the spec's generation fields). */
export interface GenerateRequest {
  maxNewTokens: number
  stopTokens?: number[]
  /** default greedy ({ temperature: 0 }) */
  sampling?: { temperature: number; topK?: number; topP?: number }
  /** seeds the sampling; default a fresh random seed (greedy decoding does not use it) */
  seed?: string
  tieTolerance?: number
}

/** One result file of a job; its bytes are served at `GET /jobs/:id/results/:name`. */
export interface JobResultFile {
  /** File name: letters, digits, `.`, `-`, `_` (e.g. `outputs.safetensors`). */
  name: string
  bytes: number
  /** 0x-hex content hash, when the node knows it. */
  hash?: string
}

/** What `GET /jobs/:id/results` answers. */
export interface JobResults {
  jobId: string
  state: JobState
  resultRoot?: string
  files: JobResultFile[]
}

/** The body of `POST /stake` and `POST /unstake`: an amount in OPEN base units. */
export interface StakeRequest {
  amount: bigint
}

export interface StakeResult {
  transaction: string
  balances: Balances
}

export interface CallOptions {
  signal: AbortSignal
}

/** A run of tokens a generate job's provider streamed to this requester (`tokens` event of `GET /events`). */
export interface StreamedTokens {
  jobId: string
  prompt: number
  /** the position of the first token in the run */
  from: number
  tokens: number[]
}

/**
 * What the API reads from. The daemon implements it over its state store and whatever
 * services run; an optional member that is absent answers 503, so the API can be served
 * before the p2p or chain layer is plugged in.
 */
export interface ApiProviders {
  status(options: CallOptions): Promise<NodeStatus>
  jobs(query: ApiJobQuery, options: CallOptions): Promise<JobRecord[]>
  job(id: string, options: CallOptions): Promise<JobRecord | undefined>
  bids(query: { jobId?: string }, options: CallOptions): Promise<BidRecord[]>
  peers?(options: CallOptions): Promise<PeerSummary[]>
  offers?(options: CallOptions): Promise<OfferSummary[]>
  balances?(options: CallOptions): Promise<Balances>
  metrics?(): Promise<{ contentType: string; body: string }>
  /** Present when the node runs the requester role: puts a job on the market. */
  submitJob?(request: SubmitJobRequest, options: CallOptions): Promise<{ jobId: string }>
  /** The result files of a job; undefined when the job is unknown. */
  jobResults?(id: string, options: CallOptions): Promise<JobResults | undefined>
  /** Calls `listener` with each job record the node writes; returns the unsubscribe (`GET /events`). */
  onJobWritten?(listener: (job: JobRecord) => void): () => void
  /** Calls `listener` with each run of streamed tokens the requester takes (`GET /events`, `tokens`). */
  onTokens?(listener: (tokens: StreamedTokens) => void): () => void
  /** Present when the node holds its keys and a chain: stakes OPEN from the node account. */
  stake?(request: StakeRequest, options: CallOptions): Promise<StakeResult>
  /** Starts unbonding staked OPEN. */
  unstake?(request: StakeRequest, options: CallOptions): Promise<StakeResult>
  /** The bytes of one result file; undefined when the job or file is unknown. */
  openJobResult?(
    id: string,
    name: string,
    options: CallOptions,
  ): Promise<AsyncIterable<Uint8Array> | undefined>
}
