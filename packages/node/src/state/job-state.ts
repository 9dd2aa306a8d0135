/**
 * The job lifecycle as this node records it (MISSION.md, "The job lifecycle"). Each role
 * records its own view of a job, but all views share these states and the same rules, so
 * no path can settle a job twice or revive a finished one.
 */
import { type JobState, jobStates } from '@ocn/protocol/api'

// the states are wire values too (the API's job records), so @ocn/protocol owns the list
export { type JobState, jobStates }

/**
 * Allowed transitions. `expired` and `failed` may be re-offered (the requester publishes
 * the job again); `finalized` and `slashed` are terminal: money has moved.
 */
export const jobTransitions: Readonly<Record<JobState, readonly JobState[]>> = {
  offered: ['bidding', 'awarded', 'expired', 'failed'],
  bidding: ['awarded', 'expired', 'failed'],
  awarded: ['executing', 'committed', 'expired', 'failed'],
  executing: ['committed', 'expired', 'failed'],
  committed: ['challenged', 'finalized', 'slashed'],
  challenged: ['finalized', 'slashed'],
  finalized: [],
  slashed: [],
  expired: ['offered', 'slashed'],
  failed: ['offered'],
}

export const terminalJobStates: readonly JobState[] = jobStates.filter(
  (state) => jobTransitions[state].length === 0,
)

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (jobStates as readonly string[]).includes(value)
}

export function canTransition(from: JobState, to: JobState): boolean {
  return jobTransitions[from].includes(to)
}

export function isTerminalJobState(state: JobState): boolean {
  return jobTransitions[state].length === 0
}
