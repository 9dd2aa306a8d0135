/**
 * The requester's side of `/ocn/tokens/1.0.0`: the tokens a generate job's provider pushes
 * while it decodes. A batch is taken only from the job's awarded provider peer, only while
 * the job runs (awarded to committed, results not yet fetched), and only for positions the
 * job has (prompts × maxNewTokens). Taken tokens go to the API's listeners at once (the
 * `tokens` event of `GET /events`) and onto the job record (detail.streamed, at most every
 * `writeEveryMs`). They are a preview: once the results are fetched, the committed tokens are
 * the authority, and prompts whose streamed tokens differ from them are flagged
 * (results.streamMismatches).
 */

import { getJob } from '@ocn/contracts-client'
import { decodeJobOffer, type TokenBatch } from '@ocn/protocol'
import { type Hex, hexToBytes } from 'viem'
import type { StreamedTokens } from '../../api/interface.js'
import { BoundedMap } from '../../core/collections.js'
import { parseGenerateJobSpec } from '../../executor/spec.js'
import { type RequesterJobDetail, requesterDetail } from '../../state/job-detail.js'
import type { JobState } from '../../state/job-state.js'
import type { JobRecord } from '../../state/records.js'
import { RoleError } from '../errors.js'
import { jobMarket, type RequesterContext } from './context.js'

/** the states in which a job's provider may be decoding (or just committed its last tokens) */
const STREAMING: readonly JobState[] = ['awarded', 'executing', 'committed']
/** jobs streaming at once that this requester keeps tokens of in memory */
const MAX_STREAMING_JOBS = 256

interface JobStream {
  prompts: number
  maxNewTokens: number
  /** per prompt, the tokens from position 0 on without gaps */
  tokens: number[][]
  timer: NodeJS.Timeout | undefined
  writing: Promise<void>
  finished: boolean
}

function refuse(why: string): RoleError {
  return new RoleError('ROLE_JOB_STATE', `streamed tokens refused: ${why}`)
}

export class RequesterTokenStreams {
  private readonly jobs = new BoundedMap<string, Promise<JobStream>>(MAX_STREAMING_JOBS)
  private readonly listeners = new Set<(e: StreamedTokens) => void>()

  constructor(
    private readonly context: RequesterContext,
    private readonly writeEveryMs = 250,
  ) {}

  /** Calls `listener` with each run of tokens taken; returns the unsubscribe. */
  listen(listener: (e: StreamedTokens) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The `/ocn/tokens/1.0.0` handler: takes the batch or throws why not. */
  async onBatch(batch: TokenBatch, from: { remotePeer: string }): Promise<void> {
    const job = await this.context.state.getJob(batch.jobId)
    if (job === undefined || job.role !== 'requester') throw refuse('not a job of this requester')
    const detail = requesterDetail(job)
    // unsigned: the authenticated peer of the connection must be the awarded provider's
    if ((await this.awardedPeer(job, from.remotePeer)) !== from.remotePeer)
      throw refuse('the sender is not the awarded provider of the job')
    if (!(STREAMING.includes(job.state) || job.state === 'bidding') || detail.results !== undefined)
      throw refuse(`the job is ${job.state}`)
    const stream = await this.streamOf(job.id, detail)
    if (stream.finished) throw refuse('the results are fetched')
    for (const run of batch.runs) {
      if (run.prompt >= stream.prompts || run.from + run.tokens.length > stream.maxNewTokens)
        throw refuse(
          `prompt ${run.prompt} positions ${run.from}..${run.from + run.tokens.length} are outside the job`,
        )
    }
    for (const run of batch.runs) {
      const row = stream.tokens[run.prompt]!
      // a run after a gap (a lost batch) is dropped: the rows stay gapless prefixes
      if (run.from > row.length) continue
      row.splice(run.from, run.tokens.length, ...run.tokens)
      const event = { jobId: job.id, prompt: run.prompt, from: run.from, tokens: [...run.tokens] }
      for (const listener of this.listeners) listener(event)
    }
    stream.timer ??= setTimeout(() => this.write(job.id, stream), this.writeEveryMs)
  }

  /**
   * The awarded provider's peer. While the record still says `bidding`, the award may be mined
   * and its record not yet written (the award waits for its receipt behind this node's other
   * transactions) while the provider already decodes a short job: the chain names the
   * provider, and the bid it sent names its peer.
   */
  private async awardedPeer(job: JobRecord, sender: string): Promise<string | undefined> {
    const known = requesterDetail(job).providerPeerId
    if (known !== undefined || job.state !== 'bidding') return known
    const { chain, state } = this.context
    // only a peer that bid costs a chain read: a stranger's batches are refused from the store
    const bid = (await state.listBids(job.id)).find((b) => b.peerId === sender)
    if (bid === undefined) return undefined
    const onChain = await getJob(chain.client, { jobMarket: jobMarket(this.context), jobId: job.id as Hex })
    // a short job's provider may have committed already: its tokens still came before the results
    if (onChain.status !== 'awarded' && onChain.status !== 'committed') return undefined
    return onChain.provider.toLowerCase() === bid.provider.toLowerCase() ? bid.peerId : undefined
  }

  /**
   * Ends a job's stream before its results are saved: no more batches are taken, the last
   * write is done, and the streamed tokens are returned (undefined: none were streamed here).
   * A write still waiting for its throttle is done now, not dropped: a short job's tokens may
   * all come within one `writeEveryMs` of its results, and the record must carry them.
   */
  async finish(jobId: string): Promise<number[][] | undefined> {
    const pending = this.jobs.get(jobId)
    if (pending === undefined) return undefined
    const stream = await pending.catch(() => undefined)
    if (stream === undefined) return undefined
    stream.finished = true
    if (stream.timer !== undefined) {
      clearTimeout(stream.timer)
      this.write(jobId, stream)
    }
    await stream.writing
    this.jobs.delete(jobId)
    return stream.tokens
  }

  private streamOf(jobId: string, detail: RequesterJobDetail): Promise<JobStream> {
    let pending = this.jobs.get(jobId)
    if (pending === undefined) {
      pending = this.openStream(detail)
      this.jobs.set(jobId, pending)
      pending.catch(() => this.jobs.delete(jobId))
    }
    return pending
  }

  /** The job's bounds from its offer and spec (both in the store since submit). */
  private async openStream(detail: RequesterJobDetail): Promise<JobStream> {
    const offer = decodeJobOffer(hexToBytes(detail.offer))
    const specBytes = await this.context.store.getBytes(offer.terms.specHash, { maxBytes: 1024 * 1024 })
    let maxNewTokens: number
    try {
      maxNewTokens = parseGenerateJobSpec(JSON.parse(new TextDecoder().decode(specBytes))).maxNewTokens
    } catch {
      throw refuse('the job is not a generate job')
    }
    const prompts = Math.floor(offer.terms.sampleCount / maxNewTokens)
    // a requester restarted mid-job goes on from what it wrote
    const written = detail.streamed ?? []
    const tokens = Array.from({ length: prompts }, (_, p) => [...(written[p] ?? [])])
    return { prompts, maxNewTokens, tokens, timer: undefined, writing: Promise.resolve(), finished: false }
  }

  /** One durable write of the streamed tokens (so `GET /jobs/:id` and the `job` event carry them). */
  private write(jobId: string, stream: JobStream): void {
    stream.timer = undefined
    const tokens = stream.tokens.map((row) => [...row])
    const { state, log } = this.context
    stream.writing = stream.writing
      .then(async () => {
        const job = await state.requireJob(jobId)
        const detail = requesterDetail(job)
        if (detail.results !== undefined) return
        // the award's own record write is under way: written on the next round, not over it
        // (a finished stream has no next round: results.ts hands its tokens on itself)
        if (job.state === 'bidding') {
          if (stream.finished) return
          stream.timer ??= setTimeout(() => this.write(jobId, stream), this.writeEveryMs)
          return
        }
        await state.updateJob(jobId, { detail: { ...detail, streamed: tokens } })
      })
      .catch((err: unknown) => log.debug({ jobId, err }, 'writing streamed tokens failed'))
  }
}

/**
 * The prompts whose streamed tokens differ from the committed ones: a streamed position the
 * committed sequence does not have, or holds another token at.
 */
export function streamMismatches(streamed: readonly number[][], committed: readonly number[][]): number[] {
  const differ: number[] = []
  streamed.forEach((row, p) => {
    const final = committed[p] ?? []
    if (row.length > final.length || row.some((t, i) => t !== final[i])) differ.push(p)
  })
  return differ
}
