import type { CourtParameters } from '@ocn/contracts-client'
import { parseEther } from 'viem'
import type { DevnetNodePlan, DevnetPlacement } from './placement.js'

export interface DevnetOptions {
  /** Root directory for the chain's deployment file, node data dirs and the workload; a temporary one by default (removed on exit). */
  dir?: string
  /** Keep `dir` after the devnet stops (always kept when `dir` was given). */
  keep?: boolean
  /** Providers; one of them cheats when `cheater` is set. */
  providers: number
  /**
   * Staked verifiers, every one in the DisputeCourt's juror pool. A challenger never sits on its
   * own dispute's jury, so the pool needs more verifiers than `court.jurySize`.
   */
  verifiers: number
  /** DisputeCourt parameters set at deploy: periods short enough for the devnet's few minutes. */
  court: Partial<CourtParameters>
  /** Make one provider cheat (the benchmark runs without). */
  cheater: boolean
  /** Fraction of micro-batch outputs the cheating provider corrupts. */
  cheatFraction: number
  /** Inference jobs in the workload. */
  inferenceJobs: number
  /** Adds one training job to the workload. */
  trainingJob: boolean
  /**
   * Adds two generate jobs (a GPT-style decoder): the cheater wins the first and forges
   * tokens, the second finalizes (workload-generation.ts).
   */
  generateJobs: boolean
  /** Adds a stateful sequence job (a VAD-like model: state batch on axis 1, a scalar input). */
  sequenceJob: boolean
  /** Samples per inference job and per micro-batch (Merkle leaf). */
  samplesPerJob: number
  microBatchSize: number
  /** The requester's bidding window. */
  biddingWindowMs: number
  /** Seconds a commitment stays open to challenges (on-chain). */
  challengeWindowSeconds: number
  /** Anvil block interval; chain randomness after a commitment needs later blocks. 0 mines per transaction. */
  blockTimeSeconds: number
  /** OPEN every node receives, and what providers and verifiers stake of it. */
  fundOpen: bigint
  stakeOpen: bigint
  /** Time each node has to come up. */
  nodeStartTimeoutMs: number
  /** Time the whole workload has to settle. */
  workloadTimeoutMs: number
  /** Log level of the node processes (their logs go to `<dir>/<node>/node.log`). */
  nodeLogLevel: string
  /** Run the workload; without it the devnet only comes up. */
  runWorkload: boolean
  /**
   * Start the nodes with their roles (the default). Without, they run only the daemon
   * (state, API, metrics): for testing the orchestration itself.
   */
  withRoles: boolean
  /** The phases to run beyond the job market (see phases.ts); all of them when unset. */
  phases?: readonly string[]
  /** The nodes, instead of those `providers`, `verifiers` and `cheater` make (a testnet scenario). */
  nodes?: readonly DevnetNodePlan[]
  /** Where the nodes and anvil run; all on loopback in this network namespace when unset (the testnet sets it). */
  placement?: DevnetPlacement
  signal?: AbortSignal
}

export const defaultDevnetOptions: DevnetOptions = {
  providers: 3,
  verifiers: 4,
  court: {
    revealPeriod: 10,
    voteCommitPeriod: 15,
    voteRevealPeriod: 15,
    appealPeriod: 10,
    jurySize: 3,
    drawDelay: 2,
  },
  cheater: true,
  cheatFraction: 0.5,
  inferenceJobs: 3,
  trainingJob: true,
  generateJobs: true,
  sequenceJob: true,
  samplesPerJob: 64,
  microBatchSize: 8,
  biddingWindowMs: 800,
  challengeWindowSeconds: 12,
  blockTimeSeconds: 1,
  fundOpen: parseEther('10000'),
  stakeOpen: parseEther('1000'),
  nodeStartTimeoutMs: 60_000,
  workloadTimeoutMs: 150_000,
  nodeLogLevel: 'info',
  runWorkload: true,
  withRoles: true,
}
