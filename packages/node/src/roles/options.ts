import type { ProviderConfig, RequesterConfig, VerifierConfig } from '../config/options.js'

export interface RoleOptions {
  /** how often each role reconciles its open jobs with the chain */
  tickIntervalMs: number
  /** seconds a provider gets after the bidding window to commit (the offer's deadline) */
  executionWindowSeconds: number
  /** how long a capability ad stays valid; it is re-published at half of it */
  capabilityAdTtlSeconds: number
  /** the requester's micro-batch size when the job does not name one: about this many leaves */
  targetLeafCount: number
  /**
   * Not knowing a provider's peer is the checker's ignorance, not the provider's refusal
   * (its capability ad may not have reached us yet), so a verifier keeps waiting for it
   * until this many seconds before the challenge window closes, and only then challenges
   * the data as unserved. A provider that does not answer at all (unreachable, refusing,
   * timing out: perhaps restarting after a crash) is asked again until then too.
   */
  unknownPeerGraceSeconds: number
}

export const defaultRoleOptions: RoleOptions = {
  tickIntervalMs: 1_000,
  executionWindowSeconds: 300,
  capabilityAdTtlSeconds: 300,
  targetLeafCount: 16,
  unknownPeerGraceSeconds: 5,
}

/**
 * Each role's own options: its section of the node config with the timing options above,
 * so a role never reads the rest of the config. `zkDir` is where the node's circuits live.
 */
export type ProviderRoleOptions = ProviderConfig & RoleOptions & { zkDir: string }
export type RequesterRoleOptions = RequesterConfig & RoleOptions & { zkDir: string }
export type VerifierRoleOptions = VerifierConfig & RoleOptions
