/** One handler per route of the table in routes.ts: each checks its inputs and asks a provider. */
import type { IncomingMessage } from 'node:http'
import { isUploadId } from '@ocn/protocol/api'
import { nodeRoles } from '../config/options.js'
import { NodeError } from '../core/errors.js'
import { isJobState } from '../state/job-state.js'
import { readDevnetBoard } from './devnet-board.js'
import { ApiError } from './errors.js'
import type { createEventStreams } from './events.js'
import { type RouteResult, readBody } from './http.js'
import type { ApiJobQuery, ApiProviders, CallOptions, StakeRequest } from './interface.js'
import { createRoleHandlers } from './role-handlers.js'
import type { ApiRouteName } from './routes.js'
import { parseSubmitJobBody, uploadIdsIn } from './submit-body.js'
import type { UploadChunk, UploadStore } from './uploads.js'

export interface RouteInput {
  /** the pattern's parameters, still percent-encoded */
  params: Record<string, string>
  query: URLSearchParams
  request: IncomingMessage
  signal: AbortSignal
}

export type RouteHandler = (input: RouteInput) => Promise<RouteResult>

const RESULT_FILE = /^[A-Za-z0-9._-]{1,128}$/
const JOB_ID = /^[A-Za-z0-9_-]{1,130}$/

function unavailable(what: string): never {
  throw new ApiError(
    'API_SERVICE_UNAVAILABLE',
    `${what} are not available: the service that provides them is not running`,
  )
}

function parseLimit(value: string | null): number | undefined {
  if (value === null) return undefined
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1) {
    throw new ApiError('API_BAD_REQUEST', `limit must be an integer from 1 to 999999 (got "${value}")`)
  }
  return Number(value)
}

function jobQuery(params: URLSearchParams): ApiJobQuery {
  const query: ApiJobQuery = {}
  const state = params.get('state')
  if (state !== null) {
    if (!isJobState(state)) throw new ApiError('API_BAD_REQUEST', `state "${state}" is not a job state`)
    query.state = state
  }
  const role = params.get('role')
  if (role !== null) {
    const known = nodeRoles.find((name) => name === role)
    if (known === undefined) throw new ApiError('API_BAD_REQUEST', `role "${role}" is not a node role`)
    query.role = known
  }
  const limit = parseLimit(params.get('limit'))
  if (limit !== undefined) query.limit = limit
  return query
}

function jobId(encoded: string | undefined): string {
  let id: string
  try {
    id = decodeURIComponent(encoded ?? '')
  } catch {
    throw new ApiError('API_BAD_REQUEST', 'the job id is not valid percent-encoding')
  }
  if (!JOB_ID.test(id))
    throw new ApiError('API_BAD_REQUEST', 'the job id must be 1 to 130 letters, digits, - or _')
  return id
}

/** Not percent-decoded: a valid name never needs encoding, so an encoded one is refused. */
function resultFileName(name: string | undefined): string {
  if (name === undefined || !RESULT_FILE.test(name) || name === '.' || name === '..')
    throw new ApiError('API_BAD_REQUEST', 'a result file name is letters, digits, ".", "-" or "_"')
  return name
}

/**
 * A POST's JSON body. A JSON content type makes a browser preflight a cross-origin POST,
 * which this API never approves; access.ts refuses a cross-origin one that comes anyway.
 */
async function readJsonBody(request: IncomingMessage, limit: number, route: string): Promise<unknown> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json')
    throw new ApiError(
      'API_UNSUPPORTED_MEDIA_TYPE',
      `${route} takes a JSON body (content-type application/json)`,
    )
  const bytes = await readBody(request, limit)
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new ApiError('API_BAD_REQUEST', 'the body is not valid JSON')
  }
}

/** `{ "amount": "<OPEN base units>" }`, nothing else. */
function parseStakeBody(body: unknown): StakeRequest {
  const raw = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const keys = Object.keys(raw)
  if (keys.length !== 1 || typeof raw.amount !== 'string' || !/^[1-9]\d{0,77}$/.test(raw.amount))
    throw new ApiError(
      'API_BAD_REQUEST',
      'the body must be { "amount": "<positive integer in OPEN base units, as a string>" }',
    )
  return { amount: BigInt(raw.amount) }
}

async function submitJob(
  providers: ApiProviders,
  uploads: UploadStore | undefined,
  maxJobBodyBytes: number,
  { request, signal }: RouteInput,
): Promise<RouteResult> {
  const body = await readJsonBody(request, maxJobBodyBytes, 'POST /jobs')
  const params = await parseSubmitJobBody(body, (id) => uploads?.path(id))
  if (providers.submitJob === undefined)
    throw new ApiError(
      'API_SERVICE_UNAVAILABLE',
      'this node does not run the requester role (--role requester)',
    )
  try {
    const submitted = await providers.submitJob(params, { signal })
    // the requester stored its own copy of the files: the uploads are done with
    await uploads?.consume(uploadIdsIn(body))
    return { kind: 'json', body: submitted }
  } catch (cause) {
    // The requester refused the job (unreadable model, inputs that do not fit it, no funds):
    // the client's input is at fault, and the requester's code says why.
    if (cause instanceof NodeError && !(cause instanceof ApiError)) {
      const details = cause.details === undefined ? '' : `; ${cause.details}`
      throw new ApiError('API_JOB_REJECTED', `${cause.shortMessage}${details}`, {
        details: cause.code,
        cause,
      })
    }
    throw cause
  }
}

function json(body: unknown): RouteResult {
  return { kind: 'json', body }
}

/**
 * An upload chunk's body: raw bytes. Its content type is not one a cross-origin page may send
 * without a preflight (which this API never approves), like a JSON body elsewhere.
 */
function uploadChunk(request: IncomingMessage, maxChunkBytes: number): UploadChunk {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/octet-stream')
    throw new ApiError(
      'API_UNSUPPORTED_MEDIA_TYPE',
      'an upload chunk is raw bytes (content-type application/octet-stream)',
    )
  const length = request.headers['content-length']
  const declared = length === undefined ? undefined : Number(length)
  if (declared !== undefined && Number.isFinite(declared) && declared > maxChunkBytes)
    throw new ApiError('API_PAYLOAD_TOO_LARGE', `an upload chunk may be at most ${maxChunkBytes} bytes`, {
      details: 'send the file in smaller chunks (@ocn/client does)',
    })
  return {
    body: request,
    declaredBytes: declared !== undefined && Number.isSafeInteger(declared) ? declared : undefined,
  }
}

function finalFlag(query: URLSearchParams): boolean {
  const final = query.get('final')
  if (final !== null && final !== '0' && final !== '1')
    throw new ApiError('API_BAD_REQUEST', 'final is 1 (the last chunk) or 0')
  return final === '1'
}

function uploadRoutes(
  uploads: UploadStore | undefined,
  maxChunkBytes: number,
): Pick<Record<ApiRouteName, RouteHandler>, 'createUpload' | 'appendUpload'> {
  const store = (): UploadStore => uploads ?? unavailable('uploads')
  return {
    createUpload: async ({ query, request, signal }) => {
      const chunk = uploadChunk(request, maxChunkBytes)
      const name = query.get('name')
      if (name === null) throw new ApiError('API_BAD_REQUEST', 'name (the file name) is required')
      return json(await store().create(name, chunk, finalFlag(query), signal))
    },
    appendUpload: async ({ params, query, request, signal }) => {
      const chunk = uploadChunk(request, maxChunkBytes)
      const id = params.id ?? ''
      if (!isUploadId(id)) throw new ApiError('API_BAD_REQUEST', 'the upload id is "up_" and 32 hex digits')
      const offset = query.get('offset')
      if (offset === null || !/^\d{1,15}$/.test(offset))
        throw new ApiError('API_BAD_REQUEST', 'offset (the bytes the node has of the upload) is required')
      return json(await store().append(id, Number(offset), chunk, finalFlag(query), signal))
    },
  }
}

function stakingRoute(
  providers: ApiProviders,
  maxBodyBytes: number,
  action: 'stake' | 'unstake' | 'deposit' | 'withdraw',
): RouteHandler {
  return async ({ request, signal }) => {
    const body = parseStakeBody(await readJsonBody(request, maxBodyBytes, `POST /${action}`))
    const run = providers[action]
    if (run === undefined)
      unavailable(action === 'stake' || action === 'unstake' ? 'staking calls' : 'market balance calls')
    try {
      return json(await run(body, { signal }))
    } catch (cause) {
      // The node refused (too little OPEN, stake locked): the client learns the node's code.
      if (cause instanceof NodeError && !(cause instanceof ApiError))
        throw new ApiError('API_REFUSED', cause.shortMessage, { details: cause.code, cause })
      throw cause
    }
  }
}

/** The handlers of every route; a route without one does not compile. */
export function createRouteHandlers(
  providers: ApiProviders,
  options: {
    maxJobBodyBytes: number
    maxBodyBytes: number
    devnetBoard: string
    maxUploadChunkBytes: number
  },
  streams: ReturnType<typeof createEventStreams>,
  uploads?: UploadStore,
): Record<ApiRouteName, RouteHandler> {
  const call = (signal: AbortSignal): CallOptions => ({ signal })
  const staking = (action: 'stake' | 'unstake' | 'deposit' | 'withdraw') =>
    stakingRoute(providers, options.maxBodyBytes, action)
  return {
    ...createRoleHandlers(providers),
    events: async ({ query, request }) => {
      const id = query.get('jobId')
      if (id !== null && !JOB_ID.test(id)) throw new ApiError('API_BAD_REQUEST', 'jobId is not a job id')
      // The stream ends when the client's connection closes.
      const controller = new AbortController()
      const socket = request.socket
      const onClose = () => controller.abort()
      socket.once('close', onClose)
      const progress = query.get('progress')
      if (progress !== null && progress !== '1' && progress !== '0')
        throw new ApiError('API_BAD_REQUEST', 'progress is 1 (send progress events) or 0')
      const filter = { ...(id === null ? {} : { jobId: id }), progress: progress === '1' }
      const body = streams.open(filter, controller.signal, () => socket.off('close', onClose))
      return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', body }
    },
    stake: staking('stake'),
    unstake: staking('unstake'),
    deposit: staking('deposit'),
    withdraw: staking('withdraw'),
    status: async ({ signal }) => json(await providers.status(call(signal))),
    peers: async ({ signal }) => {
      if (providers.peers === undefined) unavailable('peers')
      return json({ peers: await providers.peers(call(signal)) })
    },
    network: async ({ signal }) => {
      if (providers.network === undefined) unavailable('network details')
      return json(await providers.network(call(signal)))
    },
    devnet: async ({ signal }) => {
      if (providers.devnet === undefined) return json(await readDevnetBoard(options.devnetBoard))
      return json(await providers.devnet(call(signal)))
    },
    offers: async ({ signal }) => {
      if (providers.offers === undefined) unavailable('offers')
      return json({ offers: await providers.offers(call(signal)) })
    },
    bids: async ({ query, signal }) => {
      const id = query.get('jobId')
      if (id !== null && !JOB_ID.test(id)) throw new ApiError('API_BAD_REQUEST', 'jobId is not a job id')
      return json({ bids: await providers.bids(id === null ? {} : { jobId: id }, call(signal)) })
    },
    jobs: async ({ query, signal }) => json({ jobs: await providers.jobs(jobQuery(query), call(signal)) }),
    submitJob: (input) => submitJob(providers, uploads, options.maxJobBodyBytes, input),
    ...uploadRoutes(uploads, options.maxUploadChunkBytes),
    balances: async ({ signal }) => {
      if (providers.balances === undefined) unavailable('balances')
      return json(await providers.balances(call(signal)))
    },
    metrics: async () => {
      if (providers.metrics === undefined) unavailable('metrics')
      const { contentType, body } = await providers.metrics()
      return { kind: 'text', contentType, body }
    },
    job: async ({ params, signal }) => {
      const id = jobId(params.id)
      const job = await providers.job(id, call(signal))
      if (job === undefined) throw new ApiError('API_NOT_FOUND', `unknown job ${id}`)
      return json(job)
    },
    jobResults: async ({ params, signal }) => {
      const id = jobId(params.id)
      if (providers.jobResults === undefined) unavailable('job results')
      const results = await providers.jobResults(id, call(signal))
      if (results === undefined) throw new ApiError('API_NOT_FOUND', `unknown job ${id}`)
      return json(results)
    },
    jobResultFile: async ({ params, signal }) => {
      const id = jobId(params.id)
      const name = resultFileName(params.name)
      if (providers.openJobResult === undefined) unavailable('job results')
      const stream = await providers.openJobResult(id, name, call(signal))
      if (stream === undefined) throw new ApiError('API_NOT_FOUND', `job ${id} has no result file ${name}`)
      return { kind: 'stream', contentType: 'application/octet-stream', body: stream }
    },
  }
}
