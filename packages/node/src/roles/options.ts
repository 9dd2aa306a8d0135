export interface RoleOptions {
  /** how often each role reconciles its open jobs with the chain */
  tickIntervalMs: number
  /** seconds a provider gets after the bidding window to commit (the offer's deadline) */
  executionWindowSeconds: number
  /** how long a capability ad stays valid; it is re-published at half of it */
  capabilityAdTtlSeconds: number
  /** the requester's micro-batch size when the job does not name one: about this many leaves */
  targetLeafCount: number
}

export const defaultRoleOptions: RoleOptions = {
  tickIntervalMs: 1_000,
  executionWindowSeconds: 300,
  capabilityAdTtlSeconds: 300,
  targetLeafCount: 16,
}
