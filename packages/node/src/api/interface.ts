/**
 * What the API serves and reads from. The wire types (what a request and an answer carry)
 * live in @ocn/protocol's api module, shared with @ocn/client; they are re-exported here so
 * the node's layers keep importing them from the API layer.
 */
import type {
  ApiJobQuery,
  Balances,
  DevnetSummary,
  JobResults,
  NetworkSummary,
  NodeStatus,
  OfferSummary,
  PeerSummary,
  ProgressUpdate,
  ProviderStanding,
  ProviderSummary,
  StakeRequest,
  StakeResult,
  StreamedTokens,
  SubmitJobRequest,
  VerifierSummary,
} from '@ocn/protocol/api'
import type { BidRecord, JobRecord } from '../state/records.js'

export type {
  ApiJobQuery,
  Balances,
  ChainDeployment,
  DevnetNodeSummary,
  DevnetSummary,
  GenerateRequest,
  GossipPeer,
  JobResultFile,
  JobResults,
  NetworkSummary,
  NodeStatus,
  OfferSummary,
  PeerSummary,
  ProgressUpdate,
  ProviderSettlement,
  ProviderStanding,
  ProviderStandings,
  ProviderSummary,
  ServiceState,
  StakeRequest,
  StakeResult,
  StreamedTokens,
  SubmitJobRequest,
  UploadStatus,
  VerifierReward,
  VerifierSummary,
} from '@ocn/protocol/api'

export interface CallOptions {
  signal: AbortSignal
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
  /** Calls `listener` with each progress update of long work (`GET /events?progress=1`). */
  onProgress?(listener: (update: ProgressUpdate) => void): () => void
  /** The libp2p view for the console's network page: peers with gossip scores, topics. */
  network?(options: CallOptions): Promise<NetworkSummary>
  /** Present under `ocn devnet`: every node of the devnet and the workload's progress. */
  devnet?(options: CallOptions): Promise<DevnetSummary>
  /** Present when the node holds its keys and a chain: stakes OPEN from the node account. */
  stake?(request: StakeRequest, options: CallOptions): Promise<StakeResult>
  /** Starts unbonding staked OPEN. */
  unstake?(request: StakeRequest, options: CallOptions): Promise<StakeResult>
  /** Pays OPEN into the node account's prepaid JobMarket balance (`POST /deposit`). */
  deposit?(request: StakeRequest, options: CallOptions): Promise<StakeResult>
  /** Takes OPEN out of the node account's JobMarket balance (`POST /withdraw`). */
  withdraw?(request: StakeRequest, options: CallOptions): Promise<StakeResult>
  /** Present when the node runs the provider role: its terms, record and settled jobs (`GET /provider`). */
  providerSummary?(options: CallOptions): Promise<ProviderSummary>
  /** Present with a chain: each provider's JobMarket record and ranking risk (`GET /providers`). */
  providerStandings?(addresses: string[], options: CallOptions): Promise<ProviderStanding[]>
  /** Present when the node runs the verifier role: checks, disputes, jury duty, rewards (`GET /verifier`). */
  verifierSummary?(options: CallOptions): Promise<VerifierSummary>
  /** The bytes of one result file; undefined when the job or file is unknown. */
  openJobResult?(
    id: string,
    name: string,
    options: CallOptions,
  ): Promise<AsyncIterable<Uint8Array> | undefined>
}
