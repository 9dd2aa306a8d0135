/**
 * The LevelDB database under the state store: one sublevel each for jobs, bids and meta
 * (the chain cursor), values as bigint-preserving JSON. Writes of several records are one
 * atomic batch.
 */
import { Level } from 'level'
import { decodeJson, encodeJson } from './codec.js'
import { StateError } from './errors.js'
import { checkBid, checkJob } from './record-checks.js'
import type { BidRecord, ChainCursor, JobRecord } from './records.js'

const CURSOR_KEY = 'chain-cursor'

export interface StateWrite {
  jobs?: readonly JobRecord[]
  bids?: readonly BidRecord[]
  cursor?: ChainCursor
}

function openSublevels(db: Level<string, string>) {
  return {
    db,
    jobs: db.sublevel<string, string>('jobs', { valueEncoding: 'utf8' }),
    bids: db.sublevel<string, string>('bids', { valueEncoding: 'utf8' }),
    meta: db.sublevel<string, string>('meta', { valueEncoding: 'utf8' }),
  }
}
type Sublevels = ReturnType<typeof openSublevels>

function bidKey(jobId: string, bidId: string): string {
  // '/' does not occur in hex ids, and '0' is the character after '/', which bounds a job's range.
  return `${jobId}/${bidId}`
}

export class StateDatabase {
  // Created on open(), not before: a Level instance opens (and locks the directory) by itself.
  private sublevels: Sublevels | undefined

  constructor(
    readonly path: string,
    private readonly sync: boolean,
  ) {}

  /** true from open() until close(), even while the database is still opening or closing */
  get opened(): boolean {
    return this.sublevels !== undefined
  }

  async open(): Promise<void> {
    if (this.sublevels !== undefined) return
    const db = new Level<string, string>(this.path, { valueEncoding: 'utf8' })
    try {
      await db.open()
      this.sublevels = openSublevels(db)
    } catch (cause) {
      const locked = /lock/i.test(String((cause as { cause?: unknown }).cause ?? cause))
      throw new StateError('STATE_OPEN_FAILED', `cannot open the state store at ${this.path}`, {
        cause,
        details: locked ? 'another ocn process is using this data dir' : (cause as Error).message,
      })
    }
  }

  async close(): Promise<void> {
    if (this.sublevels === undefined) return
    const { db } = this.sublevels
    this.sublevels = undefined
    await db.close()
  }

  /** Checks every record, then writes them all or none. */
  async commit(write: StateWrite): Promise<void> {
    const { db, jobs, bids, meta } = this.ensureOpen()
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
    await batch.write({ sync: this.sync })
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const { jobs } = this.ensureOpen()
    const text = await jobs.get(id)
    return text === undefined ? undefined : this.decode<JobRecord>(text, `job ${id}`)
  }

  /** every job, in id order */
  async *jobs(): AsyncGenerator<JobRecord> {
    const { jobs } = this.ensureOpen()
    for await (const [key, text] of jobs.iterator()) yield this.decode<JobRecord>(text, `job ${key}`)
  }

  /** the bids of one job, or of all jobs, at most `limit` */
  async listBids(jobId: string | undefined, limit: number): Promise<BidRecord[]> {
    const { bids } = this.ensureOpen()
    const range = jobId === undefined ? {} : { gte: `${jobId}/`, lt: `${jobId}0` }
    const found: BidRecord[] = []
    for await (const [key, text] of bids.iterator({ ...range, limit })) {
      found.push(this.decode<BidRecord>(text, `bid ${key}`))
    }
    return found
  }

  async getChainCursor(): Promise<ChainCursor | undefined> {
    const { meta } = this.ensureOpen()
    const text = await meta.get(CURSOR_KEY)
    return text === undefined ? undefined : this.decode<ChainCursor>(text, 'chain cursor')
  }

  private ensureOpen(): Sublevels {
    if (this.sublevels === undefined || this.sublevels.db.status !== 'open') {
      throw new StateError('STATE_NOT_OPEN', `the state store at ${this.path} is not open`)
    }
    return this.sublevels
  }

  private decode<T>(text: string, what: string): T {
    try {
      return decodeJson<T>(text)
    } catch (cause) {
      throw new StateError('STATE_CORRUPT_RECORD', `corrupt ${what} in the state store at ${this.path}`, {
        cause,
      })
    }
  }
}
