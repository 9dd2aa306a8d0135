import { NodeError, type NodeErrorOptions } from '../core/errors.js'
import type { JobState } from './job-state.js'

export type StateErrorCode =
  | 'STATE_NOT_OPEN'
  | 'STATE_OPEN_FAILED'
  | 'STATE_JOB_NOT_FOUND'
  | 'STATE_JOB_EXISTS'
  | 'STATE_ILLEGAL_TRANSITION'
  | 'STATE_CORRUPT_RECORD'
  | 'STATE_INVALID_RECORD'

export class StateError extends NodeError<StateErrorCode> {
  override name = 'StateError'
}

/** A transition the job state machine forbids, e.g. settling a job that is already finalized. */
export class IllegalTransitionError extends StateError {
  override name = 'IllegalTransitionError'
  readonly jobId: string
  readonly from: JobState
  readonly to: JobState

  constructor(jobId: string, from: JobState, to: JobState, options: NodeErrorOptions = {}) {
    super('STATE_ILLEGAL_TRANSITION', `job ${jobId} cannot move from ${from} to ${to}`, options)
    this.jobId = jobId
    this.from = from
    this.to = to
  }
}
