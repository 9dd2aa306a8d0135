/**
 * `GET /events`: the node's job writes as server-sent events (`job`), and the tokens generate
 * jobs stream to this requester as they arrive (`tokens`, a StreamedTokens each). Each stream is bounded: a
 * fixed number may be open at once, each lives a limited time (the client reconnects), and
 * a client that reads too slowly to keep up is cut off rather than buffered without end.
 */
import type { JobRecord } from '../state/records.js'
import { ApiError } from './errors.js'
import { apiJson } from './http.js'
import type { StreamedTokens } from './interface.js'

export interface EventStreamLimits {
  /** Streams open at once; one more is refused with 503. */
  maxEventStreams: number
  /** How long one stream lives before it ends with an `end` event. */
  eventStreamMaxMs: number
  /** Events waiting for a slow reader; one more ends the stream with an `overflow` event. */
  eventQueueLimit: number
  /** A comment line this often keeps proxies and the client's idle timer from closing it. */
  eventHeartbeatMs: number
}

export type JobSource = (listener: (job: JobRecord) => void) => () => void
export type TokenSource = (listener: (tokens: StreamedTokens) => void) => () => void

const encoder = new TextEncoder()

/** One event in the text/event-stream format; data is one JSON line, so never needs splitting. */
export function formatEvent(event: string, data: unknown, id?: number): Uint8Array {
  const head = id === undefined ? '' : `id: ${id}\n`
  return encoder.encode(`${head}event: ${event}\ndata: ${apiJson(data)}\n\n`)
}

/** Counts the open streams so the route can refuse one too many before it starts. */
export function createEventStreams(
  limits: EventStreamLimits,
  source: JobSource | undefined,
  tokenSource?: TokenSource,
) {
  let open = 0

  async function* stream(
    filter: { jobId?: string },
    closed: AbortSignal,
    onDone: () => void,
  ): AsyncGenerator<Uint8Array> {
    const queue: Uint8Array[] = []
    let wake: (() => void) | undefined
    let overflow = false
    let sequence = 0
    const notify = () => {
      wake?.()
      wake = undefined
    }
    const enqueue = (jobId: string, event: string, data: unknown) => {
      if (filter.jobId !== undefined && jobId !== filter.jobId) return
      if (queue.length >= limits.eventQueueLimit) overflow = true
      else queue.push(formatEvent(event, data, ++sequence))
      notify()
    }
    const unsubscribeJobs = source!((job) => enqueue(job.id, 'job', { job }))
    const unsubscribeTokens = tokenSource?.((tokens) => enqueue(tokens.jobId, 'tokens', tokens))
    const heartbeat = setInterval(() => {
      queue.push(encoder.encode(': ping\n\n'))
      notify()
    }, limits.eventHeartbeatMs)
    const expiry = setTimeout(notify, limits.eventStreamMaxMs)
    const started = Date.now()
    open++
    closed.addEventListener('abort', notify)
    try {
      yield formatEvent('ready', { at: started })
      while (!closed.aborted) {
        while (queue.length > 0) yield queue.shift()!
        if (overflow) {
          yield formatEvent('overflow', { reason: 'the client read too slowly; reconnect' })
          return
        }
        if (Date.now() - started >= limits.eventStreamMaxMs) {
          yield formatEvent('end', { reason: 'stream time limit; reconnect' })
          return
        }
        await new Promise<void>((resolve) => {
          wake = resolve
        })
      }
    } finally {
      unsubscribeJobs()
      unsubscribeTokens?.()
      clearInterval(heartbeat)
      clearTimeout(expiry)
      closed.removeEventListener('abort', notify)
      open--
      onDone()
    }
  }

  return {
    /** Opens a stream, or throws 503 when none is available; `closed` aborts when the client goes. */
    open(filter: { jobId?: string }, closed: AbortSignal, onDone: () => void): AsyncIterable<Uint8Array> {
      if (source === undefined)
        throw new ApiError('API_SERVICE_UNAVAILABLE', 'events are not available: this node has no job store')
      if (open >= limits.maxEventStreams)
        throw new ApiError(
          'API_SERVICE_UNAVAILABLE',
          `${limits.maxEventStreams} event streams are open already; close one first`,
        )
      return stream(filter, closed, onDone)
    },
  }
}
