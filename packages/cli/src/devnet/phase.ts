/**
 * A devnet phase: one part of the system the devnet demonstrates beyond the job market
 * itself (zk jobs, governance, attribution, payment channels). Each phase lives in its own
 * module and plugs into the devnet at three points, so the orchestration in devnet.ts stays
 * one loop and a phase can be left out (`DevnetOptions.phases`).
 *
 * Order matters: phases run in the order of `devnetPhases`, and a phase that hands the
 * deployer's admin powers to governance must come after every phase that still uses them.
 */
import type { Deployment, DevChain } from '@ocn/contracts-client'
import type { NodeRole } from '@ocn/node'
import type { Account, Address, Chain, Transport, WalletClient } from 'viem'
import type { DevnetOptions } from './options.js'
import type { Workload, WorkloadJob } from './workload.js'

/** A node of the devnet as planned (before or after its process runs). */
export interface DevnetMember {
  name: string
  roles: readonly NodeRole[]
  cheater: boolean
  address: Address
  dataDir: string
}

/** A wallet on the dev chain with its account set (anvil account 0 is the deployer). */
export type DevnetWallet = WalletClient<Transport, Chain, Account>

export interface DevnetPhaseContext {
  /** The devnet root; a phase keeps its files under `<dir>/<phase name>`. */
  dir: string
  chain: DevChain
  deployment: Deployment
  /** The deployer: holds the admin role until a phase hands it to governance. */
  admin: DevnetWallet
  members: readonly DevnetMember[]
  options: DevnetOptions
  /** A progress line (stderr with --json). */
  step(message: string): void
  signal?: AbortSignal
}

/** What a phase may add to a node's config.json (merged one level deep over the base config). */
export type ConfigFragment = Record<string, unknown>

export interface DevnetPhasePrepared {
  /** Config additions by member name. */
  config?: Record<string, ConfigFragment>
}

/** A node that runs: its member entry plus where its local API answers. */
export interface DevnetRunningMember extends DevnetMember {
  api: string
  peerId: string
  /** Multiaddrs with /p2p/<peerId>. */
  listen: readonly string[]
}

export interface DevnetAfterContext extends DevnetPhaseContext {
  nodes: readonly DevnetRunningMember[]
  workload: Workload
  /** The jobs the workload ran, as reported in the summary (read-only). */
  jobs: readonly { name: string; id: string; status: string; provider: string | null }[]
  /**
   * Reports a job the phase offered itself through the requester, paid like a workload job
   * (its price escrowed, its provider paid the price less the protocol fee): the devnet
   * follows it into the summary's jobs, so the money checks count it and its replaced offers.
   * Called as soon as the job is offered, so a phase that fails later still has it counted.
   */
  offered(spec: WorkloadJob, jobId: string): void
}

export interface DevnetPhaseReport {
  /** Shown under the phase's name in the summary; JSON-able (bigints are printed as strings). */
  report: Record<string, unknown>
  /** Named pass/fail checks; they join the summary's checks and decide `ok`. */
  checks: Record<string, boolean>
  /** Human lines for the text summary. */
  lines?: string[]
  /** Contracts or accounts this phase moved OPEN to, for the token-conservation check. */
  tokenHolders?: Address[]
}

export interface DevnetPhase {
  /** Short name; also the key in `summary.phases` and the option value. */
  name: string
  /** Before any node starts: files into data dirs, deployer transactions, config fragments. */
  prepare?(context: DevnetPhaseContext): Promise<DevnetPhasePrepared | undefined>
  /** Jobs this phase adds to the workload; they are submitted with the second batch. */
  jobs?(context: DevnetPhaseContext, workload: Workload): Promise<WorkloadJob[]>
  /** After the workload settled (also when it failed): the phase's own demonstration. */
  afterWorkload?(context: DevnetAfterContext): Promise<DevnetPhaseReport>
}

/** Merges config fragments one level deep (`provider: {...}` fragments combine). */
export function mergeConfig(
  base: Record<string, unknown>,
  fragment: ConfigFragment,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(fragment)) {
    const current = out[key]
    const isObject = (v: unknown): v is Record<string, unknown> =>
      typeof v === 'object' && v !== null && !Array.isArray(v)
    out[key] = isObject(current) && isObject(value) ? { ...current, ...value } : value
  }
  return out
}
