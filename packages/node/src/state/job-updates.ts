/** The job record a creation, a transition or a plain update writes, built from the one before. */
import type { JobState } from './job-state.js'
import type { BidRecord, ChainCursor, JobHistoryEntry, JobPatch, JobRecord, NewJobRecord } from './records.js'

export interface TransitionJobParameters {
  patch?: JobPatch
  note?: string
  txHash?: string
  /** Bids written in the same atomic batch (e.g. the winning bid marked accepted). */
  bids?: readonly BidRecord[]
  /** Chain cursor written in the same batch, when the transition came from an event. */
  cursor?: ChainCursor
  /** Clock override for deterministic tests. */
  now?: number
}

/** A new job with its bookkeeping filled in: first attempt, a history of its first state. */
export function createdJob(record: NewJobRecord): JobRecord {
  const now = record.createdAt ?? Date.now()
  return {
    ...record,
    attempts: record.attempts ?? 1,
    createdAt: now,
    updatedAt: record.updatedAt ?? now,
    history: record.history ?? [{ state: record.state, at: now }],
  }
}

/**
 * `job` moved to `to` (the caller has checked the state machine allows it). A transition
 * records the outcome of the intent that was pending, so it drops it unless the patch sets one.
 */
export function transitionedJob(
  job: JobRecord,
  to: JobState,
  parameters: TransitionJobParameters,
): JobRecord {
  const at = parameters.now ?? Date.now()
  const entry: JobHistoryEntry = { state: to, at }
  if (parameters.txHash !== undefined) entry.txHash = parameters.txHash
  if (parameters.note !== undefined) entry.note = parameters.note
  const { intent: _done, ...rest } = job
  return {
    ...rest,
    ...parameters.patch,
    id: job.id,
    role: job.role,
    state: to,
    // A re-offer starts a new attempt of the same job.
    attempts: to === 'offered' ? job.attempts + 1 : (parameters.patch?.attempts ?? job.attempts),
    createdAt: job.createdAt,
    updatedAt: at,
    history: [...job.history, entry],
  }
}

/** `job` with `patch` applied; its identity, state and history stay as they were. */
export function patchedJob(job: JobRecord, patch: JobPatch): JobRecord {
  return {
    ...job,
    ...patch,
    id: job.id,
    role: job.role,
    state: job.state,
    history: job.history,
    createdAt: job.createdAt,
    updatedAt: Date.now(),
  }
}
