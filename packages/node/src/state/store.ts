import { Level } from 'level'
import type { NodeRole } from '../config/options.js'
import { decodeJson, encodeJson } from './codec.js'
import { IllegalTransitionError, StateError } from './errors.js'
import { canTransition, isJobState, type JobState } from './job-state.js'
import { defaultStateStoreOptions, type StateStoreOptions } from './options.js'
import type { BidRecord, ChainCursor, JobHistoryEntry, JobPatch, JobRecord, NewJobRecord } from './records.js'

const CURSOR_KEY = 'chain-cursor'

function openSublevels(db: Level<string, string>) {
  return {
    db,
    jobs: db.sublevel<string, string>('jobs', { valueEncoding: 'utf8' }),
    bids: db.sublevel<string, string>('bids', { valueEncoding: 'utf8' }),
    meta: db.sublevel<string, string>('meta', { valueEncoding: 'utf8' }),
  }
}
type Database = ReturnType<typeof openSublevels>
const nodeRoleNames: readonly string[] = ['provider', 'verifier', 'requester']

export interface JobQuery {
  state?: JobState
  role?: NodeRole
  limit?: number
}

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

export interface StateWrite {
  jobs?: readonly JobRecord[]
  bids?: readonly BidRecord[]
  cursor?: ChainCursor
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
   * concurrent attempts to settle it cannot both succeed.
   */
  transitionJob(id: string, to: JobState, parameters?: TransitionJobParameters): Promise<JobRecord>
  /** Updates fields without changing state (e.g. a fetched result location). */
  updateJob(id: string, patch: JobPatch): Promise<JobRecord>
  putBid(bid: BidRecord): Promise<void>
  listBids(jobId?: string): Promise<BidRecord[]>
  getChainCursor(): Promise<ChainCursor | undefined>
  setChainCursor(cursor: ChainCursor): Promise<void>
  /** Raw atomic write of several records; no transition checks (for imports and repairs). */
  write(write: StateWrite): Promise<void>
}

function bidKey(jobId: string, bidId: string): string {
  // '/' does not occur in hex ids, and '0' is the character after '/', which bounds a job's range.
  return `${jobId}/${bidId}`
}

function checkJob(record: JobRecord): void {
  const problem =
    typeof record.id !== 'string' || record.id === ''
      ? 'id must be a non-empty string'
      : record.id.includes('/')
        ? 'id must not contain "/"'
        : !nodeRoleNames.includes(record.role)
          ? `role "${String(record.role)}" is not a node role`
          : !isJobState(record.state)
            ? `state "${String(record.state)}" is not a job state`
            : undefined
  if (problem !== undefined) {
    throw new StateError('STATE_INVALID_RECORD', `invalid job record: ${problem}`)
  }
}

function checkBid(bid: BidRecord): void {
  if (
    typeof bid.jobId !== 'string' ||
    bid.jobId === '' ||
    typeof bid.bidId !== 'string' ||
    bid.bidId === ''
  ) {
    throw new StateError(
      'STATE_INVALID_RECORD',
      'invalid bid record: jobId and bidId must be non-empty strings',
    )
  }
  if (typeof bid.price !== 'bigint' || typeof bid.collateral !== 'bigint') {
    throw new StateError(
      'STATE_INVALID_RECORD',
      `invalid bid record ${bid.bidId}: price and collateral must be bigints`,
    )
  }
}

export function createStateStore(options: StateStoreOptions): StateStore {
  const sync = options.sync ?? defaultStateStoreOptions.sync
  const maxListSize = options.maxListSize ?? defaultStateStoreOptions.maxListSize
  // Created on open(), not here: a Level instance opens (and locks the directory) by itself.
  let database: Database | undefined
  /** Tail of the pending work per job id, to serialize read-modify-write cycles. */
  const jobLocks = new Map<string, Promise<unknown>>()

  function ensureOpen(): Database {
    if (database === undefined || database.db.status !== 'open') {
      throw new StateError('STATE_NOT_OPEN', `the state store at ${options.path} is not open`)
    }
    return database
  }

  function decode<T>(text: string, what: string): T {
    try {
      return decodeJson<T>(text)
    } catch (cause) {
      throw new StateError('STATE_CORRUPT_RECORD', `corrupt ${what} in the state store at ${options.path}`, {
        cause,
      })
    }
  }

  async function withJobLock<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = jobLocks.get(id) ?? Promise.resolve()
    const run = previous.then(work, work)
    const tail = run.catch(() => undefined)
    jobLocks.set(id, tail)
    try {
      return await run
    } finally {
      if (jobLocks.get(id) === tail) jobLocks.delete(id)
    }
  }

  async function commit(write: StateWrite): Promise<void> {
    const { db, jobs, bids, meta } = ensureOpen()
    for (const job of write.jobs ?? []) checkJob(job)
    for (const bid of write.bids ?? []) checkBid(bid)
    // A chained batch across sublevels is applied atomically by LevelDB: all or nothing.
    const batch = db.batch()
    for (const job of write.jobs ?? []) batch.put(job.id, encodeJson(job), { sublevel: jobs })
    for (const bid of write.bids ?? [])
      batch.put(bidKey(bid.jobId, bid.bidId), encodeJson(bid), { sublevel: bids })
    if (write.cursor !== undefined) batch.put(CURSOR_KEY, encodeJson(write.cursor), { sublevel: meta })
    if (batch.length === 0) {
      await batch.close()
      return
    }
    await batch.write({ sync })
  }

  async function getJob(id: string): Promise<JobRecord | undefined> {
    const { jobs } = ensureOpen()
    const text = await jobs.get(id)
    return text === undefined ? undefined : decode<JobRecord>(text, `job ${id}`)
  }

  async function requireJob(id: string): Promise<JobRecord> {
    const job = await getJob(id)
    if (job === undefined) throw new StateError('STATE_JOB_NOT_FOUND', `unknown job ${id}`)
    return job
  }

  return {
    path: options.path,

    async open() {
      if (database !== undefined) return
      const db = new Level<string, string>(options.path, { valueEncoding: 'utf8' })
      try {
        await db.open()
        database = openSublevels(db)
      } catch (cause) {
        const locked = /lock/i.test(String((cause as { cause?: unknown }).cause ?? cause))
        throw new StateError('STATE_OPEN_FAILED', `cannot open the state store at ${options.path}`, {
          cause,
          details: locked ? 'another ocn process is using this data dir' : (cause as Error).message,
        })
      }
    },

    async close() {
      if (database === undefined) return
      const { db } = database
      await Promise.allSettled([...jobLocks.values()])
      database = undefined
      await db.close()
    },

    async createJob(record, extra = {}) {
      return withJobLock(record.id, async () => {
        if ((await getJob(record.id)) !== undefined) {
          throw new StateError('STATE_JOB_EXISTS', `job ${record.id} is already recorded`)
        }
        const now = record.createdAt ?? Date.now()
        const job: JobRecord = {
          ...record,
          attempts: record.attempts ?? 1,
          createdAt: now,
          updatedAt: record.updatedAt ?? now,
          history: record.history ?? [{ state: record.state, at: now }],
        }
        await commit({
          jobs: [job],
          ...(extra.bids ? { bids: extra.bids } : {}),
          ...(extra.cursor ? { cursor: extra.cursor } : {}),
        })
        return job
      })
    },

    getJob,
    requireJob,

    async listJobs(query = {}) {
      const { jobs } = ensureOpen()
      const limit = Math.min(query.limit ?? maxListSize, maxListSize)
      const found: JobRecord[] = []
      for await (const [key, text] of jobs.iterator()) {
        const job = decode<JobRecord>(text, `job ${key}`)
        if (query.state !== undefined && job.state !== query.state) continue
        if (query.role !== undefined && job.role !== query.role) continue
        found.push(job)
        if (found.length >= limit) break
      }
      return found
    },

    async transitionJob(id, to, parameters = {}) {
      return withJobLock(id, async () => {
        const job = await requireJob(id)
        if (!canTransition(job.state, to)) throw new IllegalTransitionError(id, job.state, to)
        const at = parameters.now ?? Date.now()
        const entry: JobHistoryEntry = { state: to, at }
        if (parameters.txHash !== undefined) entry.txHash = parameters.txHash
        if (parameters.note !== undefined) entry.note = parameters.note
        const next: JobRecord = {
          ...job,
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
        await commit({
          jobs: [next],
          ...(parameters.bids ? { bids: parameters.bids } : {}),
          ...(parameters.cursor ? { cursor: parameters.cursor } : {}),
        })
        return next
      })
    },

    async updateJob(id, patch) {
      return withJobLock(id, async () => {
        const job = await requireJob(id)
        const next: JobRecord = {
          ...job,
          ...patch,
          id: job.id,
          role: job.role,
          state: job.state,
          history: job.history,
          createdAt: job.createdAt,
          updatedAt: Date.now(),
        }
        await commit({ jobs: [next] })
        return next
      })
    },

    async putBid(bid) {
      await commit({ bids: [bid] })
    },

    async listBids(jobId) {
      const { bids } = ensureOpen()
      const range = jobId === undefined ? {} : { gte: `${jobId}/`, lt: `${jobId}0` }
      const found: BidRecord[] = []
      for await (const [key, text] of bids.iterator({ ...range, limit: maxListSize })) {
        found.push(decode<BidRecord>(text, `bid ${key}`))
      }
      return found
    },

    async getChainCursor() {
      const { meta } = ensureOpen()
      const text = await meta.get(CURSOR_KEY)
      return text === undefined ? undefined : decode<ChainCursor>(text, 'chain cursor')
    },

    async setChainCursor(cursor) {
      await commit({ cursor })
    },

    write: commit,
  }
}
