/**
 * `createOcnClient`: the typed SDK over a node's local API. Every call takes an optional
 * AbortSignal; every answer is size limited; errors are ClientError (this side) or
 * NodeApiError (the node's code).
 */
import {
  type ApiEvents,
  balancesFromJson,
  isApiJobId,
  isUploadId,
  type SubmitJobResult,
  type UploadStatus,
} from '@ocn/protocol/api'
import type { ActivityItem, DevnetBoard, NetworkView, Progress } from './activity.js'
import { ClientError } from './errors.js'
import { type CallOptions, callJson, open, readLimited, type Transport } from './http.js'
import { createRoleCalls } from './roles.js'
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
  type SubmitJobInput,
  settledJobStates,
} from './types.js'
import { type UploadOptions, type UploadSource, uploadFile } from './upload.js'

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

const MAX_EVENT_BYTES = 1024 * 1024
/** Reconnects a follow makes when the node ends a stream at its time limit. */
const MAX_RECONNECTS = 1000

function requireJobId(id: string): string {
  if (!isApiJobId(id))
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

/** Each file of a submission is a path on the node or an upload's id, one of the two. */
function checkFiles(request: SubmitJobInput): void {
  const raw: Record<string, unknown> = { ...request }
  const fields = ['model', 'inputs', ...(request.kind === 'training' ? ['trainingSpec'] : [])]
  for (const field of [...fields, 'datanetManifest']) {
    const path = raw[`${field}Path`]
    const upload = raw[`${field}Upload`]
    const required = fields.includes(field)
    const given = (path === undefined ? 0 : 1) + (upload === undefined ? 0 : 1)
    if (given > 1 || (required && given === 0))
      throw new ClientError('CLIENT_INVALID_INPUT', `give ${field}Path or ${field}Upload, one of the two`, {
        details: `${field}Path is a path on the node's machine; ${field}Upload an id from upload()`,
      })
    if (path !== undefined && (typeof path !== 'string' || path === ''))
      throw new ClientError('CLIENT_INVALID_INPUT', `${field}Path must be a path on the node's machine`)
    if (upload !== undefined && !isUploadId(upload))
      throw new ClientError(
        'CLIENT_INVALID_INPUT',
        `${field}Upload "${String(upload)}" is not an upload id`,
        {
          details: 'an upload id is "up_" and 32 hex digits, as upload() returned it',
        },
      )
  }
}

function toBalances(raw: unknown): Balances {
  const balances = balancesFromJson(raw)
  if ('invalidField' in balances)
    throw new ClientError(
      'CLIENT_BAD_RESPONSE',
      `the node's balances lack a decimal "${balances.invalidField}"`,
    )
  return balances
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

  /** Stake, unstake, deposit, withdraw: `{ amount }` in, the transaction and the balances after out. */
  async function balanceMove(
    path: string,
    amount: bigint,
    what: string,
    call: CallOptions,
  ): Promise<StakeResult> {
    const raw = await post<{ transaction: string; balances: unknown }>(
      path,
      { amount: requireAmount(amount, `the amount to ${what}`) },
      { timeoutMs: 60_000, ...call },
    )
    return { transaction: raw.transaction, balances: toBalances(raw.balances) }
  }

  /** The node's server-sent events as they are (all jobs, or one). */
  async function* serverEvents(
    filter: { jobId?: string; progress?: boolean },
    call: CallOptions = {},
  ): AsyncGenerator<ServerEvent> {
    const jobId = filter.jobId === undefined ? undefined : requireJobId(filter.jobId)
    const path = `/events${query({ jobId, progress: filter.progress === true ? 1 : undefined })}`
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
      } else if (event.event === 'job') yield (JSON.parse(event.data) as ApiEvents['job']).job
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
   * The node's job writes and the progress of its long work (execution, replays, transfers,
   * proofs), in one stream: what the console's live pages follow.
   */
  async function* activity(
    filter: { jobId?: string } = {},
    call: CallOptions = {},
  ): AsyncGenerator<ActivityItem> {
    for await (const event of serverEvents({ ...filter, progress: true }, call)) {
      if (event.event === 'ready') yield 'ready'
      else if (event.event === 'end' || event.event === 'overflow') {
        yield 'end'
        return
      } else if (event.event === 'job')
        yield { type: 'job', job: (JSON.parse(event.data) as { job: Job }).job }
      else if (event.event === 'progress')
        yield { type: 'progress', progress: (JSON.parse(event.data) as { progress: Progress }).progress }
    }
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
    ...createRoleCalls(get),
    status: (call?: CallOptions) => get<NodeStatus>('/status', call),
    peers: async (call?: CallOptions) => (await get<{ peers: Peer[] }>('/peers', call)).peers,
    offers: async (call?: CallOptions) => (await get<{ offers: Offer[] }>('/offers', call)).offers,
    jobs: async (filter: { state?: JobState; role?: NodeRole; limit?: number } = {}, call?: CallOptions) =>
      (await get<{ jobs: Job[] }>(`/jobs${query({ ...filter })}`, call)).jobs,
    job: async (id: string, call?: CallOptions) =>
      get<Job>(`/jobs/${encodeURIComponent(requireJobId(id))}`, call),
    bids: async (jobId?: string, call?: CallOptions) =>
      (
        await get<{ bids: Bid[] }>(
          `/bids${query({ jobId: jobId === undefined ? undefined : requireJobId(jobId) })}`,
          call,
        )
      ).bids,
    balances: async (call?: CallOptions) => toBalances(await get<unknown>('/balances', call)),
    /**
     * Sends a file to the node for a job (in chunks; `onProgress` after each): the answer's
     * `uploadId` goes into `submit` as `modelUpload`, `inputsUpload`, ... The node deletes it
     * once a job took it, or after a while unused. `name` keeps the file's extension.
     */
    upload: (file: UploadSource, name: string, options?: UploadOptions): Promise<UploadStatus> =>
      uploadFile(
        {
          postBytes: (path, bytes, call) =>
            callJson<UploadStatus>(transport, path, { ...call, method: 'POST', bytes }),
          sha256Hex,
        },
        file,
        name,
        options,
      ),
    /** Puts a job on the market from the node's requester role; files by path or upload id. */
    submit: async (request: SubmitJobInput, call: CallOptions = {}) => {
      checkFiles(request)
      if (request.maxPrice !== undefined) requireAmount(request.maxPrice, 'maxPrice')
      return post<SubmitJobResult>('/jobs', request, { timeoutMs: 60_000, ...call })
    },
    stake: (amount: bigint, call: CallOptions = {}) => balanceMove('/stake', amount, 'stake', call),
    unstake: (amount: bigint, call: CallOptions = {}) => balanceMove('/unstake', amount, 'unstake', call),
    /**
     * Pays OPEN into the node account's prepaid JobMarket balance (`balances.market`): awards
     * whose price it covers take it from there, with no token transfer.
     */
    deposit: (amount: bigint, call: CallOptions = {}) => balanceMove('/deposit', amount, 'deposit', call),
    /** Takes OPEN out of the node account's JobMarket balance (deposits, refunds, credited payouts). */
    withdraw: (amount: bigint, call: CallOptions = {}) => balanceMove('/withdraw', amount, 'withdraw', call),
    results: async (id: string, call?: CallOptions) =>
      get<JobResults>(`/jobs/${encodeURIComponent(requireJobId(id))}/results`, call),
    /**
     * One result file's bytes as a stream, for files too large to hold (the caller checks the
     * hash `results` announced). Cancelling the stream, or the call's signal, ends the request.
     */
    async openResult(id: string, name: string, call: CallOptions = {}): Promise<ReadableStream<Uint8Array>> {
      const opened = await open(
        transport,
        `/jobs/${encodeURIComponent(requireJobId(id))}/results/${encodeURIComponent(name)}`,
        { method: 'GET', accept: 'application/octet-stream' },
        call,
      )
      const reader = opened.response.body?.getReader()
      if (reader === undefined) {
        opened.release()
        throw new ClientError('CLIENT_BAD_RESPONSE', `the node sent no body for ${name}`)
      }
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read()
            if (!done) return controller.enqueue(value)
            opened.release()
            controller.close()
          } catch (cause) {
            opened.release()
            controller.error(opened.failure(cause))
          }
        },
        cancel(reason) {
          opened.release()
          return reader.cancel(reason)
        },
      })
    },
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
    activity,
    follow,
    streamTokens,
    /** Connected peers with their gossip scores, and this node's topics. */
    network: (call?: CallOptions) => get<NetworkView>('/network', call),
    /** Under `ocn devnet`: every node and the workload's progress (NodeApiError 404 elsewhere). */
    devnet: (call?: CallOptions) => get<DevnetBoard>('/devnet', call),
  }
}

export type OcnClient = ReturnType<typeof createOcnClient>
