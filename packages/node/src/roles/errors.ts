import { NodeError } from '../core/errors.js'

export type RoleErrorCode =
  | 'ROLE_FILE_UNREADABLE'
  | 'ROLE_INPUT_MISMATCH'
  | 'ROLE_INVALID_PARAMS'
  | 'ROLE_UNKNOWN_JOB'
  | 'ROLE_JOB_STATE'
  | 'ROLE_NO_BIDS'
  | 'ROLE_INSUFFICIENT_BALANCE'
  | 'ROLE_ARTIFACT_UNAVAILABLE'
  | 'ROLE_NOT_SUPPORTED'
  | 'ROLE_MODEL_NOT_APPROVED'
  /** a provider's check before bidding found the offered job cannot run (roles/prebid.ts) */
  | 'ROLE_JOB_INVALID'
  /** a verifier's own re-execution of a job failed (its executor, not the provider's data) */
  | 'ROLE_REPLAY_FAILED'

/** A role could not do what was asked; `details` says what to change. */
export class RoleError extends NodeError<RoleErrorCode> {
  override name = 'RoleError'
}
