/**
 * The wire types of a node's local HTTP API, declared once for both sides: the node's API
 * server (@ocn/node api/) answers with them and @ocn/client (the SDK the CLI and the console
 * use) reads them. Pure types and validators, no I/O and no imports, so a browser bundle
 * takes this module (`@ocn/protocol/api`) without the codecs, viem or libp2p.
 *
 * Amounts are bigints on the node; the JSON carries them as decimal strings (`ApiJson`).
 */

/** The roles one daemon can play; several can be enabled at once. */
export type NodeRole = 'provider' | 'verifier' | 'requester'

/** The job lifecycle's states, in the order a job that goes well passes them. */
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

/** Job kinds the node takes today; the union widens as the protocol adds kinds. */
export type JobKind = 'inference' | 'training'
export type VerificationMode = 'replay' | 'zk'

/** A bigint as the API's JSON carries it. */
export type DecimalString = string

/** A value as the API's JSON carries it: bigints arrive as decimal strings. */
export type ApiJson<T> = T extends bigint
  ? string
  : T extends readonly (infer Item)[]
    ? ApiJson<Item>[]
    : T extends object
      ? { [K in keyof T]: ApiJson<T[K]> }
      : T

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
  chain?: {
    rpcUrl: string
    chainId?: number
    blockNumber?: bigint
    cursor?: bigint
    /** The protocol deployment the node talks to (absent while its chain service is not started). */
    deployment?: ChainDeployment
  }
  network?: { listen: string[]; peers: number }
  /** Number of jobs in each state in the local store. */
  jobs: Partial<Record<JobState, number>>
}

/** A protocol deployment as the status shows it: each contract's address by name. */
export interface ChainDeployment {
  /** e.g. `token`, `stakeManager`, `jobMarket`, `disputeCourt` (as in the deployment file) */
  contracts: Record<string, string>
  /** the block of the first deployment transaction */
  deployBlock: bigint
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
  /** Stake leaving: requested for unstaking, withdrawable at `unbondingReadyAt` (absent: none). */
  unbonding?: bigint
  /** Unix seconds (chain time) from which the unbonding stake can be withdrawn. */
  unbondingReadyAt?: bigint
  /**
   * Prepaid OPEN inside the JobMarket, withdrawable (deposits, refunds of jobs paid from it,
   * payouts credited to it); an award takes its price from here when this covers it.
   * Absent from a node that does not read it.
   */
  market?: bigint
  /** Whether jobs awarded to this account from now on pay out to `market` instead of by transfer. */
  payoutToBalance?: boolean
}

export interface ApiJobQuery {
  state?: JobState
  role?: NodeRole
  limit?: number
}

export interface JobHistoryEntry {
  state: JobState
  /** Unix milliseconds. */
  at: number
  /** Transaction that caused or recorded the transition, if any. */
  txHash?: string
  note?: string
}

/**
 * One job as the API carries it (the node's JobRecord in JSON). `detail` is the role's own
 * data (progress, results, checks); its shape depends on `role`.
 */
export interface ApiJob {
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
  detail?: Record<string, unknown>
}

/** One bid as the API carries it (the node's BidRecord in JSON). */
export interface ApiBid {
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

/** What the node's requester takes beyond model and inputs (CLI flags of `ocn job submit`). */
export interface SubmitJobShape {
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

/**
 * The body of `POST /jobs` as the node has checked it: files are paths on the node's
 * machine, never uploaded bytes; defaults are filled in.
 */
export interface SubmitJobRequest extends SubmitJobShape {
  modelPath: string
  inputsPath: string
  kind: JobKind
  trainingSpecPath?: string
  /** the datanet manifest of a training spec that names attribution */
  datanetManifestPath?: string
  verification: VerificationMode
  maxPrice?: bigint
}

interface SubmitJobCommon extends SubmitJobShape {
  /** replay by default */
  verification?: VerificationMode
  /** The most the requester pays, in OPEN base units. */
  maxPrice?: bigint
}

/**
 * A file the node reads for a job: either an absolute path on the node's machine
 * (`<field>Path`) or a finished upload's id (`<field>Upload`, what `POST /uploads` answered),
 * never both.
 */
type FileField<Path extends string, Upload extends string> =
  | ({ [K in Path]: string } & { [K in Upload]?: never })
  | ({ [K in Upload]: string } & { [K in Path]?: never })
type OptionalFileField<Path extends string, Upload extends string> =
  | ({ [K in Path]?: string } & { [K in Upload]?: never })
  | ({ [K in Upload]?: string } & { [K in Path]?: never })

export type InferenceJobInput = SubmitJobCommon &
  FileField<'modelPath', 'modelUpload'> &
  FileField<'inputsPath', 'inputsUpload'> & { kind: 'inference' }

export type TrainingJobInput = SubmitJobCommon &
  FileField<'modelPath', 'modelUpload'> &
  FileField<'inputsPath', 'inputsUpload'> &
  FileField<'trainingSpecPath', 'trainingSpecUpload'> &
  OptionalFileField<'datanetManifestPath', 'datanetManifestUpload'> & { kind: 'training' }

/** One job as a client puts it on the market; a new kind is a new member of this union. */
export type SubmitJobInput = InferenceJobInput | TrainingJobInput

/** One result file of a job; its bytes are served at `GET /jobs/:id/results/:name`. */
export interface JobResultFile {
  /** File name: letters, digits, `.`, `-`, `_` (e.g. `outputs.safetensors`). */
  name: string
  bytes: number
  /** 0x-hex SHA-256 of the file's bytes, when the node knows it. */
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

/** The answer of `POST /jobs`. */
export interface SubmitJobResult {
  jobId: string
}

/**
 * What `POST /uploads` and `POST /uploads/:id` answer: an upload the node holds in its data
 * dir until a job names it (`modelUpload`, ...) or it expires. A file arrives in chunks; the
 * last one (`final=1`) completes it, and only then does it carry its hash.
 */
export interface UploadStatus {
  /** The node's id for it (`up_` and 32 hex digits): what a job submission names. */
  uploadId: string
  /** The file name it was uploaded as (its extension tells the node the format). */
  name: string
  /** Bytes received so far (all of them, once complete). */
  bytes: number
  complete: boolean
  /** 0x-hex SHA-256 of the file's bytes, once complete. */
  hash?: string
  /** When the node deletes it if no job has taken it (ms since the epoch). */
  expiresAt: number
}

const UPLOAD_ID = /^up_[0-9a-f]{32}$/

/** An upload id as the node gives it: `up_` and 32 hex digits. */
export function isUploadId(value: unknown): value is string {
  return typeof value === 'string' && UPLOAD_ID.test(value)
}

/**
 * The events of `GET /events` (text/event-stream), by name, with the JSON each carries:
 * `ready` once the stream is subscribed, `job` for each write of a job record, `end` when the
 * stream reached its time limit and `overflow` when the reader fell behind (both: reconnect);
 * `tokens` for each run of tokens a generate job's provider streamed to this requester, and,
 * on a stream opened with `progress=1`, `progress` for each (rate-limited) step of long work.
 */
export interface ApiEvents {
  ready: { at: number }
  job: { job: ApiJob }
  tokens: StreamedTokens
  progress: { progress: ProgressUpdate }
  end: { reason: string }
  overflow: { reason: string }
}
export type ApiEventName = keyof ApiEvents

const JOB_ID = /^[A-Za-z0-9_-]{1,130}$/
const RESULT_FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/
const DECIMAL = /^(0|[1-9]\d{0,77})$/

/** A job id as the API takes it in a path: 1 to 130 letters, digits, `-` or `_`. */
export function isApiJobId(value: unknown): value is string {
  return typeof value === 'string' && JOB_ID.test(value)
}

/** A result file name a client may write to disk: no path, no leading dot. */
export function isResultFileName(value: unknown): value is string {
  return typeof value === 'string' && RESULT_FILE_NAME.test(value) && !value.startsWith('.')
}

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (jobStates as readonly string[]).includes(value)
}

/** A decimal string of a non-negative integer below 10^78 (what an amount becomes in JSON). */
export function isDecimalString(value: unknown): value is DecimalString {
  return typeof value === 'string' && DECIMAL.test(value)
}

const requiredBalanceAmounts = ['native', 'token', 'staked', 'locked'] as const
const optionalBalanceAmounts = ['escrowed', 'unbonding', 'unbondingReadyAt', 'market'] as const

/**
 * Balances from their JSON, or the name of the first field that is not a decimal amount
 * (so a caller can say exactly what the node sent wrong).
 */
export function balancesFromJson(raw: unknown): Balances | { invalidField: string } {
  const record = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {}
  if (typeof record.address !== 'string') return { invalidField: 'address' }
  const amounts: Partial<Record<(typeof requiredBalanceAmounts)[number], bigint>> = {}
  for (const name of requiredBalanceAmounts) {
    const value = record[name]
    if (!isDecimalString(value)) return { invalidField: name }
    amounts[name] = BigInt(value)
  }
  const balances: Balances = {
    address: record.address,
    native: amounts.native!,
    token: amounts.token!,
    staked: amounts.staked!,
    locked: amounts.locked!,
  }
  for (const name of optionalBalanceAmounts) {
    const value = record[name]
    if (value === undefined) continue
    if (!isDecimalString(value)) return { invalidField: name }
    balances[name] = BigInt(value)
  }
  if (record.payoutToBalance !== undefined) {
    if (typeof record.payoutToBalance !== 'boolean') return { invalidField: 'payoutToBalance' }
    balances.payoutToBalance = record.payoutToBalance
  }
  return balances
}

/** A run of tokens a generate job's provider streamed to this requester (`tokens` event of `GET /events`). */
export interface StreamedTokens {
  jobId: string
  prompt: number
  /** the position of the first token in the run */
  from: number
  tokens: number[]
}

export type ProgressStage = 'execution' | 'verification' | 'transfer' | 'circuit' | 'proving'

/** One step of long work on a node (`progress` event of `GET /events?progress=1`), rate-limited by the node. */
export interface ProgressUpdate {
  /** the job the work is for, when it is for one */
  jobId?: string
  stage: ProgressStage
  /** what is counted: `micro-batches`, `steps`, `tokens`, `replays`, `bytes`, `stages` */
  unit: string
  done: number
  /** the amount when known (a bar); absent for a counter */
  total?: number
  /** what exactly runs (`model`, `inputs`, `setup`): one job may run several pieces of one stage */
  label?: string
  /** units per second since the piece of work began (bytes/s for transfers); set by the node's hub */
  rate?: number
  /** Unix ms of the update; set by the node's hub */
  at: number
  /** the work ended (done or failed): the last update of this piece */
  finished?: boolean
}

/** A connected peer as gossipsub scores it. */
export interface GossipPeer {
  peerId: string
  addresses: string[]
  /** gossipsub's score of the peer (negative: penalised) */
  score?: number
  /** the topics the peer subscribes to, of those this node knows */
  topics: string[]
}

/** `GET /network`: connected peers with their gossip scores, and this node's topics. */
export interface NetworkSummary {
  peerId: string
  listen: string[]
  peers: GossipPeer[]
  /** topic → peers in this node's mesh for it */
  topics: { topic: string; meshPeers?: number; subscribers: number }[]
}

/** One node of a devnet as the devnet runner sees it. */
export interface DevnetNodeSummary {
  name: string
  roles: NodeRole[]
  address: string
  /** the node's API (its console), on loopback */
  apiUrl?: string
  /** a provider that cheats (the devnet's fault plan) */
  cheater?: boolean
  state: 'starting' | 'running' | 'stopped'
}

/** `GET /devnet`: under `ocn devnet`, every node and the workload's progress. */
export interface DevnetSummary {
  nodes: DevnetNodeSummary[]
  workload?: { submitted: number; settled: number; total: number; failed: number }
}

/**
 * A provider's record in the JobMarket (`getProviderRecord`) and the risk weight requesters
 * rank its bids by (docs/node.md, "Bid selection"): `(1 + 2 × slashed + noShows) / (1 +
 * completed)` before any credit for collateral beyond the offer's minimum. A stranger's is 1;
 * lower is better.
 */
export interface ProviderStanding {
  address: string
  completed: number
  slashed: number
  noShows: number
  /** what the market has paid the provider over its life, in OPEN base units */
  totalEarned: bigint
  risk: number
}

/** One settled job of this provider: the price it was paid, or the collateral a conviction drew from. */
export interface ProviderSettlement {
  jobId: string
  /** Unix ms the node recorded the settlement */
  at: number
  state: 'finalized' | 'slashed'
  /** finalized: the job's price */
  earned: bigint
  /** slashed: the collateral the slash was taken from (the penalty is the market's share of it) */
  slashedCollateral: bigint
}

/** `GET /provider`: this node as a provider, its terms from its config and its record from the chain. */
export interface ProviderSummary {
  address?: string
  /** absent while the chain cannot be read */
  standing?: ProviderStanding
  /** the lowest price it bids, per sample (inference) or optimizer step (training) */
  priceFloorPerSample: bigint
  /** jobs it executes at once */
  maxConcurrentJobs: number
  /** jobs it holds that are not settled (awarded, executing, committed, challenged) */
  running: number
  devices: string[]
  collateral: { priceMultiple: number; maxLockedFraction: number }
  /** settled jobs, oldest first (at most the newest 200) */
  settlements: ProviderSettlement[]
}

/** `GET /providers?addresses=`: the standing of each provider asked for (bidders on a job). */
export interface ProviderStandings {
  standings: ProviderStanding[]
}

/** One payment the DisputeCourt or the JobMarket made to (or took from) this verifier. */
export interface VerifierReward {
  jobId: string
  disputeId?: bigint
  /** `challenger`: the reward of an upheld challenge; `juror`: a coherent juror's share; `juror-penalty`: taken */
  kind: 'challenger' | 'juror' | 'juror-penalty'
  amount: bigint
  txHash?: string
  blockNumber: bigint
}

/** `GET /verifier`: this node's checks, what they found, its disputes and jury duty, its rewards. */
export interface VerifierSummary {
  /** jobs checked (a report written) */
  checks: number
  /** checks that found a mismatch */
  mismatches: number
  /** mean over checks of the probability that the check catches one faked micro-batch */
  meanDetectionProbability?: number
  /** challenges this node committed: the provider convicted, given up (abandoned or conceded), still open */
  challenges: { raised: number; convicted: number; abandoned: number; open: number }
  jury: { seats: number; revealed: number }
  rewards: {
    challenger: bigint
    jurorFees: bigint
    jurorPenalties: bigint
    /** newest first, at most 200 */
    entries: VerifierReward[]
  }
}
