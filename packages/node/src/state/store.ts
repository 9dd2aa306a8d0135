/**
 * The node's durable job state: jobs, bids and the chain cursor in LevelDB (database.ts),
 * job transitions checked against the state machine and serialized per job (job-locks.ts).
 */
import type { NodeRole } from '../config/options.js'
import { StateDatabase, type StateWrite } from './database.js'
import { IllegalTransitionError, StateError } from './errors.js'
import { JobLocks } from './job-locks.js'
import { canTransition, type JobState } from './job-state.js'
import { createdJob, patchedJob, type TransitionJobParameters, transitionedJob } from './job-updates.js'
import { defaultStateStoreOptions, type StateStoreOptions } from './options.js'
import type { BidRecord, ChainCursor, JobPatch, JobRecord, NewJobRecord } from './records.js'

export type { StateWrite } from './database.js'
export type { TransitionJobParameters } from './job-updates.js'

export interface JobQuery {
  state?: JobState
  role?: NodeRole
  limit?: number
}

export interface StateStore {
  readonly path: string
  open(): Promise<void>
  close(): Promise<void>
  /** Records a new job in its first state; fails if the id is known. */
  createJob(
    record: NewJobRecord,
    options?: { bids?: readonly BidRecord[]; cursor?: ChainCursor },
  ): Promise<JobRecord>
  getJob(id: string): Promise<JobRecord | undefined>
  /** Like getJob but a missing job is a StateError `STATE_JOB_NOT_FOUND`. */
  requireJob(id: string): Promise<JobRecord>
  listJobs(query?: JobQuery): Promise<JobRecord[]>
  /**
   * Moves a job to `to`, checked against the state machine, writing the job and anything
   * in `parameters` in one atomic batch. Transitions of one job are serialized, so two
   * concurrent attempts to settle it cannot both succeed. A move to the state the job is
   * already in is a no-op (an event and a tick that both saw the same chain change race
   * harmlessly): the job is returned unchanged, and only the bids and cursor are written.
   */
  transitionJob(id: string, to: JobState, parameters?: TransitionJobParameters): Promise<JobRecord>
  /**
   * Updates fields without changing state (e.g. a fetched result location). A patch with an
   * `intent` records it (see ChainIntent); `intent: undefined` drops the pending one.
   */
  updateJob(id: string, patch: JobPatch): Promise<JobRecord>
  putBid(bid: BidRecord): Promise<void>
  listBids(jobId?: string): Promise<BidRecord[]>
  getChainCursor(): Promise<ChainCursor | undefined>
  setChainCursor(cursor: ChainCursor): Promise<void>
  /** Raw atomic write of several records; no transition checks (for imports and repairs). */
  write(write: StateWrite): Promise<void>
  /**
   * Calls `listener` with each job record once it is durably written (created, moved,
   * patched): the API's event stream follows jobs through it. Returns the unsubscribe.
   */
  onJobWritten(listener: (job: JobRecord) => void): () => void
}

export function createStateStore(options: StateStoreOptions): StateStore {
  const sync = options.sync ?? defaultStateStoreOptions.sync
  const maxListSize = options.maxListSize ?? defaultStateStoreOptions.maxListSize
  const database = new StateDatabase(options.path, sync)
  const locks = new JobLocks()
  const listeners = new Set<(job: JobRecord) => void>()
  const commit = async (write: StateWrite) => {
    await database.commit(write)
    for (const job of write.jobs ?? []) {
      for (const listener of listeners) {
        // A listener (an API event stream) must never fail the write that already happened.
        try {
          listener(job)
        } catch {}
      }
    }
  }
  const getJob = (id: string) => database.getJob(id)

  async function requireJob(id: string): Promise<JobRecord> {
    const job = await getJob(id)
    if (job === undefined) throw new StateError('STATE_JOB_NOT_FOUND', `unknown job ${id}`)
    return job
  }

  /** the bids and cursor of `extra` that are set, for a commit alongside a job */
  const alongside = (extra: { bids?: readonly BidRecord[]; cursor?: ChainCursor }): StateWrite => ({
    ...(extra.bids ? { bids: extra.bids } : {}),
    ...(extra.cursor ? { cursor: extra.cursor } : {}),
  })

  return {
    path: options.path,
    open: () => database.open(),
    async close() {
      if (!database.opened) return
      await locks.settled()
      await database.close()
    },
    async createJob(record: NewJobRecord, extra = {}) {
      return locks.run(record.id, async () => {
        if ((await getJob(record.id)) !== undefined) {
          throw new StateError('STATE_JOB_EXISTS', `job ${record.id} is already recorded`)
        }
        const job = createdJob(record)
        await commit({ jobs: [job], ...alongside(extra) })
        return job
      })
    },
    getJob,
    requireJob,
    async listJobs(query = {}) {
      const limit = Math.min(query.limit ?? maxListSize, maxListSize)
      const found: JobRecord[] = []
      for await (const job of database.jobs()) {
        if (query.state !== undefined && job.state !== query.state) continue
        if (query.role !== undefined && job.role !== query.role) continue
        found.push(job)
        if (found.length >= limit) break
      }
      return found
    },
    async transitionJob(id, to, parameters = {}) {
      return locks.run(id, async () => {
        const job = await requireJob(id)
        if (job.state === to) {
          await commit(alongside(parameters))
          return job
        }
        if (!canTransition(job.state, to)) throw new IllegalTransitionError(id, job.state, to)
        const next = transitionedJob(job, to, parameters)
        await commit({ jobs: [next], ...alongside(parameters) })
        return next
      })
    },
    async updateJob(id, patch) {
      return locks.run(id, async () => {
        const next = patchedJob(await requireJob(id), patch)
        await commit({ jobs: [next] })
        return next
      })
    },
    putBid: (bid) => commit({ bids: [bid] }),
    listBids: (jobId) => database.listBids(jobId, maxListSize),
    getChainCursor: () => database.getChainCursor(),
    setChainCursor: (cursor) => commit({ cursor }),
    write: commit,
    onJobWritten(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
