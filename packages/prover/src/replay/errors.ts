import { OcnError } from '@ocn/protocol'
export type ReplayErrorCode =
  /** a parameter is out of range (n, k, fractions, randomness length) */
  | 'REPLAY_INVALID_ARGUMENT'
  /** the spot check was aborted through its signal */
  | 'REPLAY_ABORTED'

export interface ReplayErrorOptions {
  details?: string
  cause?: unknown
}

/** The typed error of the replay back-end: a stable code, a short message, details, a cause. */
export class ReplayError extends OcnError<ReplayErrorCode> {
  override name = 'ReplayError'
}
