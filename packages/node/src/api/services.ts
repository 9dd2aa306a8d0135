import type { NodeRole } from '../config/options.js'
import type { Startable } from '../core/lifecycle.js'
import type {
  Balances,
  JobResults,
  NetworkSummary,
  OfferSummary,
  PeerSummary,
  StreamedTokens,
  SubmitJobRequest,
} from './interface.js'

/**
 * The parts of a node as the local API and the composition root see them. Each layer
 * implements its interface (p2p, chain, executor, roles); the API server reads them through
 * `ApiProviders` and never imports a layer itself.
 */
/** The libp2p host as the daemon needs it; the network layer implements it. */
export interface P2PService extends Startable {
  readonly peerId: string
  listenAddresses(): string[]
  peers(): Promise<PeerSummary[]>
  /** peers with gossip scores and the topics (the console's network page) */
  network?(): Promise<NetworkSummary>
}

/** The chain client as the daemon needs it; the contracts-client layer implements it. */
export interface ChainService extends Startable {
  readonly rpcUrl: string
  chainId(): Promise<number>
  blockNumber(): Promise<bigint>
  balances(address: string): Promise<Balances>
  /** Stakes OPEN from the node account (approve + stake); the transaction's hash. */
  stake?(amount: bigint): Promise<string>
  /** Starts unbonding free stake; the transaction's hash. */
  unstake?(amount: bigint): Promise<string>
  /** Pays OPEN into the node account's prepaid JobMarket balance (approve + deposit); the hash. */
  deposit?(amount: bigint): Promise<string>
  /** Takes OPEN out of the node account's JobMarket balance; the transaction's hash. */
  withdraw?(amount: bigint): Promise<string>
  /** A provider's record in the JobMarket (jobs completed, slashed, no-shows, earned). */
  providerRecord?(provider: string): Promise<ProviderRecordReading>
  /**
   * The protocol deployment it talks to (the status shows its contracts); reading it throws
   * while the service has not loaded it.
   */
  readonly deployment?: { readonly addresses: object; readonly deployBlock: bigint }
}

/** `JobMarket.getProviderRecord` as the chain layer reads it. */
export interface ProviderRecordReading {
  completed: number
  slashed: number
  noShows: number
  totalEarned: bigint
}

/** The execution back-end (ONNX Runtime workers). */
export interface ExecutorService extends Startable {
  devices(): string[]
}

/** A role (provider, verifier, requester) running the job lifecycle from its side. */
export interface RoleService extends Startable {
  readonly role: NodeRole
  /** Offers this role tracks (providers and requesters see them on gossip). */
  offers?(): Promise<OfferSummary[]>
  /** The requester puts a job on the market (the API's `POST /jobs`). */
  submitJob?(request: SubmitJobRequest, options?: { signal?: AbortSignal }): Promise<{ jobId: string }>
  /** The result files of a job this role holds (the API's `GET /jobs/:id/results`). */
  jobResults?(id: string, options?: { signal?: AbortSignal }): Promise<JobResults | undefined>
  /** The tokens generate jobs stream to this requester as they arrive (the API's `tokens` events). */
  onTokens?(listener: (tokens: StreamedTokens) => void): () => void
  /** The bytes of one result file (the API's `GET /jobs/:id/results/:name`). */
  openJobResult?(
    id: string,
    name: string,
    options?: { signal?: AbortSignal },
  ): Promise<AsyncIterable<Uint8Array> | undefined>
}
