import { homedir } from 'node:os'
import { join } from 'node:path'
import type { LogFormat, LogLevel } from '../core/logger.js'

/** The roles one daemon can play; several can be enabled at once. */
export const nodeRoles = ['provider', 'verifier', 'requester'] as const
export type NodeRole = (typeof nodeRoles)[number]

export { type LogFormat, type LogLevel, logFormats, logLevels } from '../core/logger.js'

export interface NetworkConfig {
  /** Multiaddrs the libp2p host listens on. */
  listen: string[]
  /**
   * Multiaddrs other peers are told to dial instead of the listen addresses (a relay or a NAT in
   * front of the host); empty announces the listen addresses.
   */
  announce: string[]
  /** Multiaddrs (with /p2p/<peerId>) dialled at start to join the network. */
  bootstrap: string[]
  /** Discover peers on the local network with mDNS. */
  mdns: boolean
}

export interface ChainConfig {
  /** EVM JSON-RPC endpoint (http(s) or ws(s)). */
  rpcUrl: string
  /** Deployment file with the contract addresses; relative paths resolve against the data dir. */
  deploymentFile: string
  /** Blocks after the one including a transaction before the node acts on it. */
  confirmations: number
}

export interface ApiConfig {
  enabled: boolean
  host: string
  /** 0 picks a free port (the daemon writes the chosen one to `<dataDir>/api.json`). */
  port: number
}

export interface MetricsConfig {
  /** Serve Prometheus metrics at `GET /metrics` on the local API. */
  enabled: boolean
}

export interface ProviderConfig {
  /** Execution devices offered: `cpu`, `cuda`, `cuda:<index>`. */
  devices: string[]
  /** Lowest price the provider bids, per sample (inference) or per step (training), in token base units. */
  priceFloorPerSample: bigint
  /** Jobs executed at once; offers beyond it are not bid on. */
  maxConcurrentJobs: number
  collateral: ProviderCollateralConfig
  models: ModelPolicyConfig
  /**
   * Offers whose model and inputs are each at most this many bytes are fetched and checked
   * (spec, model, inputs, datanet manifest) before bidding; an invalid job gets no bid.
   * 0 turns the check off. Larger artifacts are fetched after the award, as before.
   */
  prebidFetchMaxBytes: number
  /**
   * How long a bid waits for that check. A check not done by then means no bid on this
   * offer (the check goes on, so a re-offer of the same job is judged at once).
   */
  prebidTimeoutMs: number
  /**
   * Payouts of jobs awarded from now on are credited to the provider's prepaid balance in the
   * JobMarket (withdrawn when it likes) instead of transferred at each settlement, which saves
   * the token transfer. The provider sets the on-chain choice to this at start when it differs.
   * Off by default: payouts by transfer.
   */
  payoutToBalance: boolean
  /**
   * The most jobs settled in one transaction: commits that become ready while another commit
   * is being sent go out together (`commitBatch`), and each tick finalizes every job whose
   * challenge window has passed at once (`finalizeBatch`). 1 sends a transaction per job.
   */
  settlementBatchMax: number
  /**
   * How long a job whose challenge window has passed may wait for others to be finalized with
   * it: the tick finalizes all due jobs together once the one due longest has waited this long.
   * 0 (the default) finalizes at once; more trades later payment (and collateral locked that
   * much longer) for fewer transactions.
   */
  finalizeDelayMs: number
}

/** Which models a provider runs or a requester pays for, judged by the deployment's ModelRegistry. */
export interface ModelPolicyConfig {
  /**
   * Only models whose status is Approved (not None, Proposed, Deprecated or Revoked).
   * Off by default: the market itself refuses revoked models only.
   */
  onlyApproved: boolean
}

export interface ProviderCollateralConfig {
  /** Collateral put up per bid as a multiple of the bid price (never below the offer's minimum stake). */
  priceMultiple: number
  /** Largest fraction of the provider's stake locked as collateral across all running jobs. */
  maxLockedFraction: number
}

export interface VerifierConfig {
  /** Probability that a check catches a provider that faked a given fraction of the samples. */
  targetDetectionProbability: number
  /** Cap on samples (or training segments) re-executed per job: the most a check may cost. */
  maxSamplesPerJob: number
  /**
   * OPEN of free stake locked into the DisputeCourt's juror pool at start (the verifier sits on
   * juries); 0 means the court's `jurorMinStake`.
   */
  jurorStake: bigint
}

export interface RequesterConfig {
  /** How long bids are collected after an offer is published. */
  biddingWindowMs: number
  /**
   * Time kept after bid collection for the award (and the fall-back awards to the next bids)
   * to land on chain: the offer's biddingEnds is the collection's end plus this, and the
   * market refuses an award after biddingEnds.
   */
  awardGraceMs: number
  /**
   * How long past its announced ETA an awarded provider may stay silent (no commitment on
   * chain) before the job is offered again without it, long before the deadline.
   */
  noShowGraceMs: number
  /**
   * Lowest bid price taken, per sample (inference) or per training step, in token base
   * units: bids below it are absurd (a lure, not a price) and dropped before ranking.
   */
  minPricePerSample: bigint
  /** automatic re-offers of a job that died (no usable bid, failed award, no-show, expiry) */
  noBidReoffers: number
  noBidReofferDelayMs: number
  /** Highest total price the requester escrows for one job, in token base units. */
  maxPrice: bigint
  models: ModelPolicyConfig
  /**
   * The most jobs awarded in one transaction: awards that become ready while another award is
   * being sent go out together (`awardBatch`). 1 sends a transaction per award.
   */
  awardBatchMax: number
}

export interface NodeConfig {
  /** Keys, state database and runtime files live here. */
  dataDir: string
  roles: NodeRole[]
  logLevel: LogLevel
  logFormat: LogFormat
  network: NetworkConfig
  chain: ChainConfig
  api: ApiConfig
  metrics: MetricsConfig
  provider: ProviderConfig
  verifier: VerifierConfig
  requester: RequesterConfig
}

/** 10^18: the OPEN token has 18 decimals like ether. */
const OPEN = 10n ** 18n

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir()
  return join(home, '.ocn')
}

/**
 * Defaults that work against the local devnet: anvil on its default port, the deployment
 * file the devnet writes into the data dir, mDNS on so local nodes find each other, and
 * the API on loopback only.
 */
export function defaultNodeConfig(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  return {
    dataDir: defaultDataDir(env),
    roles: [],
    logLevel: 'info',
    logFormat: 'auto',
    network: {
      listen: ['/ip4/0.0.0.0/tcp/4101'],
      announce: [],
      bootstrap: [],
      mdns: true,
    },
    chain: {
      rpcUrl: 'http://127.0.0.1:8545',
      deploymentFile: 'deployment.json',
      confirmations: 1,
    },
    api: { enabled: true, host: '127.0.0.1', port: 7410 },
    metrics: { enabled: true },
    provider: {
      devices: ['cpu'],
      priceFloorPerSample: OPEN / 10_000n,
      maxConcurrentJobs: 2,
      collateral: { priceMultiple: 2, maxLockedFraction: 0.5 },
      models: { onlyApproved: false },
      prebidFetchMaxBytes: 4 * 1024 * 1024,
      prebidTimeoutMs: 1_000,
      payoutToBalance: false,
      settlementBatchMax: 32,
      finalizeDelayMs: 0,
    },
    verifier: { targetDetectionProbability: 0.99, maxSamplesPerJob: 64, jurorStake: 0n },
    requester: {
      biddingWindowMs: 2_000,
      awardGraceMs: 20_000,
      noShowGraceMs: 120_000,
      minPricePerSample: OPEN / 10_000_000n,
      noBidReoffers: 2,
      noBidReofferDelayMs: 2_000,
      maxPrice: OPEN,
      models: { onlyApproved: false },
      awardBatchMax: 32,
    },
  }
}
