import type { Registry } from 'prom-client'
import type { Balances, JobResults, OfferSummary, PeerSummary, SubmitJobRequest } from '../api/interface.js'
import type { NodeConfig, NodeRole } from '../config/options.js'
import type { NodeKeys } from '../keys/keystore.js'
import type { Logger } from '../logging/index.js'
import type { MetricsFactory } from '../metrics/index.js'
import type { StateStore } from '../state/store.js'

/** Every long-lived part of the daemon. */
export interface Startable {
  start(): Promise<void>
  stop(): Promise<void>
}

/** The libp2p host as the daemon needs it; the network layer implements it. */
export interface P2PService extends Startable {
  readonly peerId: string
  listenAddresses(): string[]
  peers(): Promise<PeerSummary[]>
}

/** The chain client as the daemon needs it; the contracts-client layer implements it. */
export interface ChainService extends Startable {
  readonly rpcUrl: string
  chainId(): Promise<number>
  blockNumber(): Promise<bigint>
  balances(address: string): Promise<Balances>
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
  /** The bytes of one result file (the API's `GET /jobs/:id/results/:name`). */
  openJobResult?(
    id: string,
    name: string,
    options?: { signal?: AbortSignal },
  ): Promise<AsyncIterable<Uint8Array> | undefined>
}

/** What the daemon hands to each service factory: the shared parts, never globals. */
export interface DaemonServices {
  config: NodeConfig
  logger: Logger
  metrics: MetricsFactory
  state: StateStore
  keys?: NodeKeys
  p2p?: P2PService
  chain?: ChainService
  executor?: ExecutorService
}

export type ServiceFactory<T> = (services: DaemonServices) => T

/**
 * The components bag of `createDaemon`. Everything is optional: the daemon runs its state
 * store, logger, metrics and local API on its own, and the layers are plugged in as
 * factories when they exist. Factories run in order chain, executor, p2p, roles, each
 * seeing the services created before it.
 */
export interface DaemonComponents {
  logger?: Logger
  /** Shared prom-client registry (libp2p registers into it too). */
  registry?: Registry
  /** Replaces the LevelDB store in `<dataDir>/state` (tests, alternative stores). */
  state?: StateStore
  keys?: NodeKeys
  chain?: ServiceFactory<ChainService>
  executor?: ServiceFactory<ExecutorService>
  p2p?: ServiceFactory<P2PService>
  roles?: Partial<Record<NodeRole, ServiceFactory<RoleService>>>
}
