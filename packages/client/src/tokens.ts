/**
 * Following a generate job's tokens: what the provider streams to the requester while it
 * decodes (the node's `tokens` events, and `detail.streamed` on the job record for what came
 * before the stream opened), then the committed tokens once the requester has checked them
 * against every committed leaf. The committed tokens are the authority: prompts whose
 * streamed tokens differ from them are flagged.
 */
import { ClientError } from './errors.js'
import type { ServerEvent } from './sse.js'
import type { Job } from './types.js'

/** A run of tokens streamed for one prompt, from position `from` on (each position once). */
export interface StreamedTokenChunk {
  type: 'tokens'
  prompt: number
  from: number
  tokens: number[]
}

/** The end of the stream: the committed tokens, checked by the requester. */
export interface CommittedTokens {
  type: 'committed'
  /** per prompt, the committed tokens (the authority over what was streamed) */
  tokens: number[][]
  /** every committed leaf matched the tokens */
  verified: boolean
  /** prompts whose streamed tokens differ from the committed ones (seen here or by the node) */
  streamMismatches: number[]
}

export type TokenStreamEvent = StreamedTokenChunk | CommittedTokens

/** The parts of the client the token stream reads through. */
export interface TokenStreamSource {
  /** the node's event stream of one job, raw (it must start with `ready`) */
  events(jobId: string): AsyncGenerator<ServerEvent>
  job(jobId: string): Promise<Job>
}

const MAX_RECONNECTS = 1000
const ENDED: readonly string[] = ['slashed', 'expired', 'failed']

const isTokenList = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((t) => Number.isInteger(t) && t >= 0)

interface Results {
  tokens?: unknown
  verified?: unknown
  streamMismatches?: unknown
}

/** What the stream yields so far per prompt, so a position is never yielded twice. */
class Seen {
  readonly rows: number[][] = []

  /** The part of a run not yielded yet, if it continues a prompt's tokens without a gap. */
  take(prompt: number, from: number, tokens: number[]): StreamedTokenChunk | undefined {
    if (!Number.isInteger(prompt) || prompt < 0 || prompt > 1 << 20 || !isTokenList(tokens)) return undefined
    while (this.rows.length <= prompt) this.rows.push([])
    const row = this.rows[prompt]!
    if (!Number.isInteger(from) || from > row.length || from + tokens.length <= row.length) return undefined
    const fresh = tokens.slice(row.length - from)
    const chunk = { type: 'tokens' as const, prompt, from: row.length, tokens: fresh }
    row.push(...fresh)
    return chunk
  }

  /** The committed end, with every prompt whose streamed tokens differ from it flagged. */
  committed(results: Results): CommittedTokens | undefined {
    const tokens = results.tokens
    if (!Array.isArray(tokens) || !tokens.every(isTokenList)) return undefined
    const flagged = new Set<number>(
      Array.isArray(results.streamMismatches)
        ? results.streamMismatches.filter((p): p is number => Number.isInteger(p))
        : [],
    )
    this.rows.forEach((row, p) => {
      const final = tokens[p] ?? []
      if (row.length > final.length || row.some((t, i) => t !== final[i])) flagged.add(p)
    })
    return {
      type: 'committed',
      tokens,
      verified: results.verified === true,
      streamMismatches: [...flagged].sort((a, b) => a - b),
    }
  }
}

function resultsOf(job: Job): Results | undefined {
  return (job.detail as { results?: Results } | undefined)?.results
}

/** What a job record says: the streamed tokens not yielded yet, and the end if it is there. */
function* fromRecord(job: Job, seen: Seen): Generator<TokenStreamEvent, boolean> {
  const streamed = (job.detail as { streamed?: unknown } | undefined)?.streamed
  if (Array.isArray(streamed)) {
    for (const [p, row] of streamed.entries()) {
      const chunk = isTokenList(row) ? seen.take(p, 0, row) : undefined
      if (chunk !== undefined) yield chunk
    }
  }
  const results = resultsOf(job)
  const end = results === undefined ? undefined : seen.committed(results)
  if (end !== undefined) {
    yield end
    return true
  }
  // slashed, expired or failed: no committed tokens will come
  return ENDED.includes(job.state)
}

/**
 * Yields the job's streamed tokens as they arrive, then its committed tokens, and ends. The
 * event stream is opened before the record is read, so no token falls between them; a stream
 * the node ends at its time limit is reopened.
 */
export async function* streamJobTokens(
  source: TokenStreamSource,
  jobId: string,
  signal?: AbortSignal,
): AsyncGenerator<TokenStreamEvent> {
  const seen = new Seen()
  for (let attempt = 0; attempt < MAX_RECONNECTS; attempt++) {
    const stream = source.events(jobId)
    try {
      const first = await stream.next()
      if (first.done === true || first.value.event !== 'ready')
        throw new ClientError('CLIENT_BAD_RESPONSE', 'the event stream did not start with "ready"')
      if (yield* fromRecord(await source.job(jobId), seen)) return
      for await (const event of stream) {
        if (event.event === 'end' || event.event === 'overflow') break
        if (event.event === 'tokens') {
          const t = JSON.parse(event.data) as { prompt: number; from: number; tokens: number[] }
          const chunk = seen.take(t.prompt, t.from, t.tokens)
          if (chunk !== undefined) yield chunk
        } else if (event.event === 'job') {
          const { job } = JSON.parse(event.data) as { job: Job }
          if (yield* fromRecord(job, seen)) return
        }
      }
      if (signal?.aborted) throw new ClientError('CLIENT_ABORTED', 'streaming the tokens was aborted')
    } finally {
      await stream.return(undefined)
    }
  }
  throw new ClientError(
    'CLIENT_STREAM_ENDED',
    `stopped streaming job ${jobId} after ${MAX_RECONNECTS} streams`,
  )
}
