/**
 * `createOcnClient`: the typed SDK over a node's local API. Every call takes an optional
 * AbortSignal; every answer is size limited; errors are ClientError (this side) or
 * NodeApiError (the node's code).
 */
import { ClientError } from './errors.js'
import { type CallOptions, callJson, open, readLimited, type Transport } from './http.js'
import { readServerEvents, type ServerEvent } from './sse.js'
import { streamJobTokens, type TokenStreamEvent } from './tokens.js'
import {
  type Balances,
  type Bid,
  type Job,
  type JobEvent,
  type JobResults,
  type JobState,
  type NodeRole,
  type NodeStatus,
  type Offer,
  type Peer,
  type StakeResult,
  type SubmitJobRequest,
  settledJobStates,
} from './types.js'

export interface OcnClientOptions {
  /** The node's API address, e.g. `http://127.0.0.1:7410` (in the console: the page's origin). */
  url: string
  /** The node's API token (`ocn console --print-url` shows it); needed for POSTs and off loopback. */
  token?: string
  /** Another fetch (tests, proxies); the global one by default. */
  fetch?: typeof fetch
  /** Time for the node to answer a call; 10 s by default (a submission: 60 s). */
  timeoutMs?: number
  /** Largest JSON answer read; 8 MiB by default. */
  maxResponseBytes?: number
}

export interface DownloadOptions extends CallOptions {
  /** Largest file read into memory; 256 MiB by default. */
  maxBytes?: number
}

export interface FollowOptions extends CallOptions {
  /** When following ends; by default once the job is settled (finalized or slashed). */
  until?: (job: Job) => boolean
}

const JOB_ID = /^[A-Za-z0-9_-]{1,130}$/
const MAX_EVENT_BYTES = 1024 * 1024
/** Reconnects a follow makes when the node ends a stream at its time limit. */
const MAX_RECONNECTS = 1000

function requireJobId(id: string): string {
  if (!JOB_ID.test(id))
    throw new ClientError('CLIENT_INVALID_INPUT', `"${id}" is not a job id`, {
      details: 'a job id is 1 to 130 letters, digits, - or _ (the 0x-hex id the node gave)',
    })
  return id
}

function requireAmount(amount: bigint, what: string): bigint {
  if (typeof amount !== 'bigint' || amount <= 0n)
    throw new ClientError('CLIENT_INVALID_INPUT', `${what} must be a positive bigint in OPEN base units`)
  return amount
}

function toBalances(raw: Record<string, string>): Balances {
  const amount = (name: string) => {
    const value = raw[name]
    if (typeof value !== 'string' || !/^\d+$/.test(value))
      throw new ClientError('CLIENT_BAD_RESPONSE', `the node's balances lack a decimal "${name}"`)
    return BigInt(value)
  }
  return {
    address: String(raw.address),
    native: amount('native'),
    token: amount('token'),
    staked: amount('staked'),
    locked: amount('locked'),
    ...(raw.escrowed === undefined ? {} : { escrowed: amount('escrowed') }),
  }
}

export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes))
  return `0x${Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')}`
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value))
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}

export function createOcnClient(options: OcnClientOptions) {
  let baseUrl: string
  try {
    baseUrl = new URL(options.url).origin
  } catch (cause) {
    throw new ClientError('CLIENT_INVALID_INPUT', `"${options.url}" is not a URL`, { cause })
  }
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis)
  const transport: Transport = {
    baseUrl,
    token: options.token,
    fetch: fetchImpl,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxResponseBytes: options.maxResponseBytes ?? 8 * 1024 * 1024,
  }
  const get = <T>(path: string, call?: CallOptions) => callJson<T>(transport, path, call)
  const post = <T>(path: string, body: unknown, call: CallOptions = {}) =>
    callJson<T>(transport, path, { ...call, method: 'POST', body })

  /** The node's server-sent events as they are (all jobs, or one). */
  async function* serverEvents(
    filter: { jobId?: string },
    call: CallOptions = {},
  ): AsyncGenerator<ServerEvent> {
    const path = `/events${query({ jobId: filter.jobId === undefined ? undefined : requireJobId(filter.jobId) })}`
    const opened = await open(transport, path, { method: 'GET', accept: 'text/event-stream' }, call)
    const body = opened.response.body
    if (body === null) throw new ClientError('CLIENT_BAD_RESPONSE', 'the event stream has no body')
    try {
      yield* readServerEvents(body, MAX_EVENT_BYTES)
    } catch (cause) {
      throw opened.failure(cause)
    } finally {
      opened.release()
    }
  }

  /** The node's job writes as they happen (all jobs, or one). */
  async function* events(
    filter: { jobId?: string } = {},
    call: CallOptions = {},
  ): AsyncGenerator<Job | 'ready' | 'end'> {
    for await (const event of serverEvents(filter, call)) {
      if (event.event === 'ready') yield 'ready'
      else if (event.event === 'end' || event.event === 'overflow') {
        yield 'end'
        return
      } else if (event.event === 'job') yield (JSON.parse(event.data) as { job: Job }).job
    }
  }

  /**
   * A generate job's tokens as the provider streams them to this requester (each position
   * once, a chunk per run), then its committed tokens (`type: 'committed'`), which are the
   * authority: prompts whose streamed tokens differ from them are flagged. Ends after that,
   * or when the job ends without them (slashed, expired, failed).
   */
  function streamTokens(id: string, call: CallOptions = {}): AsyncGenerator<TokenStreamEvent> {
    requireJobId(id)
    return streamJobTokens(
      {
        events: (jobId) => serverEvents({ jobId }, { signal: call.signal, timeoutMs: call.timeoutMs }),
        job: (jobId) => get<Job>(`/jobs/${encodeURIComponent(jobId)}`, call),
      },
      id,
      call.signal,
    )
  }

  /**
   * Follows one job: its record now, then each write of it, until `until` holds (by default
   * once it is settled). The stream is opened before the record is read, so no write falls
   * between them; a stream the node ends at its time limit is reopened.
   */
  async function* follow(id: string, call: FollowOptions = {}): AsyncGenerator<JobEvent> {
    requireJobId(id)
    const done = call.until ?? ((job: Job) => settledJobStates.includes(job.state))
    let previous: JobState | undefined
    for (let attempt = 0; attempt < MAX_RECONNECTS; attempt++) {
      const stream = events({ jobId: id }, { signal: call.signal, timeoutMs: call.timeoutMs })
      try {
        const first = await stream.next()
        if (first.value !== 'ready')
          throw new ClientError('CLIENT_BAD_RESPONSE', 'the event stream did not start with "ready"')
        const job = await get<Job>(`/jobs/${encodeURIComponent(id)}`, call)
        yield previous === undefined ? { type: 'snapshot', job } : { type: 'update', job, previous }
        previous = job.state
        if (done(job)) return
        for await (const item of stream) {
          if (item === 'end') break
          if (item === 'ready') continue
          yield { type: 'update', job: item, previous }
          previous = item.state
          if (done(item)) return
        }
        if (call.signal?.aborted) throw new ClientError('CLIENT_ABORTED', 'following the job was aborted')
      } finally {
        await stream.return(undefined)
      }
    }
    throw new ClientError(
      'CLIENT_STREAM_ENDED',
      `stopped following job ${id} after ${MAX_RECONNECTS} streams`,
    )
  }

  return {
    url: baseUrl,
    status: (call?: CallOptions) => get<NodeStatus>('/status', call),
    peers: async (call?: CallOptions) => (await get<{ peers: Peer[] }>('/peers', call)).peers,
    offers: async (call?: CallOptions) => (await get<{ offers: Offer[] }>('/offers', call)).offers,
    jobs: async (filter: { state?: JobState; role?: NodeRole; limit?: number } = {}, call?: CallOptions) =>
      (await get<{ jobs: Job[] }>(`/jobs${query({ ...filter })}`, call)).jobs,
    job: (id: string, call?: CallOptions) => get<Job>(`/jobs/${encodeURIComponent(requireJobId(id))}`, call),
    bids: async (jobId?: string, call?: CallOptions) =>
      (
        await get<{ bids: Bid[] }>(
          `/bids${query({ jobId: jobId === undefined ? undefined : requireJobId(jobId) })}`,
          call,
        )
      ).bids,
    balances: async (call?: CallOptions) => toBalances(await get<Record<string, string>>('/balances', call)),
    /** Puts a job on the market from the node's requester role. */
    submit: (request: SubmitJobRequest, call: CallOptions = {}) => {
      if (typeof request.modelPath !== 'string' || typeof request.inputsPath !== 'string')
        throw new ClientError(
          'CLIENT_INVALID_INPUT',
          'modelPath and inputsPath are paths on the node machine',
        )
      if (request.maxPrice !== undefined) requireAmount(request.maxPrice, 'maxPrice')
      return post<{ jobId: string }>('/jobs', request, { timeoutMs: 60_000, ...call })
    },
    stake: async (amount: bigint, call: CallOptions = {}): Promise<StakeResult> => {
      const raw = await post<{ transaction: string; balances: Record<string, string> }>(
        '/stake',
        { amount: requireAmount(amount, 'the amount to stake') },
        { timeoutMs: 60_000, ...call },
      )
      return { transaction: raw.transaction, balances: toBalances(raw.balances) }
    },
    unstake: async (amount: bigint, call: CallOptions = {}): Promise<StakeResult> => {
      const raw = await post<{ transaction: string; balances: Record<string, string> }>(
        '/unstake',
        { amount: requireAmount(amount, 'the amount to unstake') },
        { timeoutMs: 60_000, ...call },
      )
      return { transaction: raw.transaction, balances: toBalances(raw.balances) }
    },
    results: (id: string, call?: CallOptions) =>
      get<JobResults>(`/jobs/${encodeURIComponent(requireJobId(id))}/results`, call),
    /**
     * Downloads one result file and checks its SHA-256 against the hash the node announced
     * (`results`), so a file corrupted on disk or in transit is never handed back.
     */
    async download(id: string, name: string, call: DownloadOptions = {}) {
      const listing = await get<JobResults>(`/jobs/${encodeURIComponent(requireJobId(id))}/results`, call)
      const file = listing.files.find((entry) => entry.name === name)
      if (file === undefined)
        throw new ClientError('CLIENT_INVALID_INPUT', `job ${id} has no result file "${name}"`, {
          details: `its files: ${listing.files.map((entry) => entry.name).join(', ') || 'none yet'}`,
        })
      const opened = await open(
        transport,
        `/jobs/${encodeURIComponent(id)}/results/${encodeURIComponent(name)}`,
        { method: 'GET', accept: 'application/octet-stream' },
        call,
      )
      const bytes = await readLimited(opened, call.maxBytes ?? 256 * 1024 * 1024)
      const hash = await sha256Hex(bytes)
      if (file.hash !== undefined && hash !== file.hash.toLowerCase())
        throw new ClientError('CLIENT_HASH_MISMATCH', `${name} of job ${id} does not match its hash`, {
          details: `expected ${file.hash}, got ${hash}`,
        })
      return { name, bytes, hash, verified: file.hash !== undefined }
    },
    events,
    follow,
    streamTokens,
  }
}

export type OcnClient = ReturnType<typeof createOcnClient>
