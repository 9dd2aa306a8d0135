import { stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isAbsolute } from 'node:path'
import { nodeRoles } from '../config/options.js'
import { NodeError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import { withTimeout as withDeadline } from '../core/time.js'
import type { MetricsFactory } from '../metrics/index.js'
import { toPublicJson } from '../state/codec.js'
import { isJobState } from '../state/job-state.js'
import { ApiError } from './errors.js'
import type { ApiJobQuery, ApiProviders, SubmitJobRequest } from './interface.js'
import { type ApiServerOptions, defaultApiServerOptions } from './options.js'

export interface ApiServerComponents {
  providers: ApiProviders
  logger: Logger
  metrics?: MetricsFactory
}

export interface ApiServer {
  start(): Promise<void>
  stop(): Promise<void>
  /** `http://host:port` once started. */
  readonly url: string | undefined
  readonly port: number | undefined
}

type RouteResult =
  | { kind: 'json'; body: unknown }
  | { kind: 'text'; contentType: string; body: string }
  | { kind: 'stream'; contentType: string; body: AsyncIterable<Uint8Array> }

const RESULT_FILE = /^[A-Za-z0-9._-]{1,128}$/

const JOB_ID = /^[A-Za-z0-9_-]{1,130}$/
const staticRoutes = new Set(['/status', '/peers', '/offers', '/bids', '/jobs', '/balances', '/metrics'])

/** The route label for metrics: a fixed set, never the raw path (which a client controls). */
function routeLabel(path: string): string {
  if (staticRoutes.has(path)) return path
  if (path.startsWith('/jobs/')) {
    const parts = path.split('/').length
    if (parts === 3) return '/jobs/:id'
    return parts === 4 ? '/jobs/:id/results' : '/jobs/:id/results/:name'
  }
  return 'unknown'
}
const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1)
  const colon = host.lastIndexOf(':')
  return colon === -1 ? host : host.slice(0, colon)
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

const SUBMIT_FIELDS = new Set([
  'modelPath',
  'inputsPath',
  'kind',
  'trainingSpecPath',
  'datanetManifestPath',
  'verification',
  'maxPrice',
  'microBatchSize',
])

/** Checks a `POST /jobs` body field by field, so a client learns exactly what is wrong. */
export async function parseSubmitJobBody(body: unknown): Promise<SubmitJobRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError('API_BAD_REQUEST', 'the body must be a JSON object')
  const raw = body as Record<string, unknown>
  for (const key of Object.keys(raw)) {
    if (!SUBMIT_FIELDS.has(key)) throw new ApiError('API_BAD_REQUEST', `unknown field "${key}"`)
  }
  const file = async (name: string, required: boolean): Promise<string | undefined> => {
    const value = raw[name]
    if (value === undefined && !required) return undefined
    if (typeof value !== 'string' || value === '' || value.length > 4096 || !isAbsolute(value))
      throw new ApiError('API_BAD_REQUEST', `${name} must be an absolute path on the node's machine`)
    let isFile = false
    try {
      isFile = (await stat(value)).isFile()
    } catch {
      throw new ApiError('API_BAD_REQUEST', `${name}: no file at ${value}`)
    }
    if (!isFile) throw new ApiError('API_BAD_REQUEST', `${name}: ${value} is not a file`)
    return value
  }
  const kind = raw.kind ?? 'inference'
  if (kind !== 'inference' && kind !== 'training')
    throw new ApiError('API_BAD_REQUEST', 'kind must be "inference" or "training"')
  const verification = raw.verification ?? 'replay'
  if (verification !== 'replay' && verification !== 'zk')
    throw new ApiError('API_BAD_REQUEST', 'verification must be "replay" or "zk"')
  const request: SubmitJobRequest = {
    modelPath: (await file('modelPath', true))!,
    inputsPath: (await file('inputsPath', true))!,
    kind,
    verification,
  }
  const spec = await file('trainingSpecPath', kind === 'training')
  if (spec !== undefined) {
    if (kind !== 'training')
      throw new ApiError('API_BAD_REQUEST', 'trainingSpecPath is only for kind "training"')
    request.trainingSpecPath = spec
  }
  const datanet = await file('datanetManifestPath', false)
  if (datanet !== undefined) {
    if (kind !== 'training')
      throw new ApiError('API_BAD_REQUEST', 'datanetManifestPath is only for kind "training"')
    request.datanetManifestPath = datanet
  }
  if (raw.maxPrice !== undefined) {
    if (typeof raw.maxPrice !== 'string' || !/^[1-9]\d{0,77}$/.test(raw.maxPrice))
      throw new ApiError(
        'API_BAD_REQUEST',
        'maxPrice must be a positive integer in token base units, as a string',
      )
    request.maxPrice = BigInt(raw.maxPrice)
  }
  if (raw.microBatchSize !== undefined) {
    const size = raw.microBatchSize
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 1_000_000)
      throw new ApiError('API_BAD_REQUEST', 'microBatchSize must be an integer from 1 to 1000000')
    request.microBatchSize = size
  }
  return request
}

function unavailable(what: string): never {
  throw new ApiError(
    'API_SERVICE_UNAVAILABLE',
    `${what} are not available: the service that provides them is not running`,
  )
}

/**
 * The local HTTP API on node:http. Read-only (GET/HEAD), JSON with bigints as decimal
 * strings, errors as `{ "error": { "code", "message" } }`. It binds to loopback by default
 * and then also checks the Host header, so a web page cannot reach it by DNS rebinding.
 */
export function createApiServer(init: ApiServerOptions, components: ApiServerComponents): ApiServer {
  const options = { ...defaultApiServerOptions, ...init }
  const { providers, logger } = components
  const requests = components.metrics?.counter({
    name: 'api_requests_total',
    help: 'Local API requests by route and HTTP status',
    labelNames: ['route', 'status'] as const,
  })
  const durations = components.metrics?.histogram({
    name: 'api_request_duration_seconds',
    help: 'Time to answer local API requests',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  })
  let server: Server | undefined
  let port: number | undefined
  const guardHost = loopbackHosts.has(options.host)

  async function route(path: string, params: URLSearchParams, signal: AbortSignal): Promise<RouteResult> {
    const call = { signal }
    switch (path) {
      case '/status':
        return { kind: 'json', body: await providers.status(call) }
      case '/peers':
        if (providers.peers === undefined) unavailable('peers')
        return { kind: 'json', body: { peers: await providers.peers(call) } }
      case '/offers':
        if (providers.offers === undefined) unavailable('offers')
        return { kind: 'json', body: { offers: await providers.offers(call) } }
      case '/bids': {
        const jobId = params.get('jobId')
        if (jobId !== null && !JOB_ID.test(jobId))
          throw new ApiError('API_BAD_REQUEST', 'jobId is not a job id')
        return { kind: 'json', body: { bids: await providers.bids(jobId === null ? {} : { jobId }, call) } }
      }
      case '/jobs':
        return { kind: 'json', body: { jobs: await providers.jobs(jobQuery(params), call) } }
      case '/balances':
        if (providers.balances === undefined) unavailable('balances')
        return { kind: 'json', body: await providers.balances(call) }
      case '/metrics': {
        if (providers.metrics === undefined) unavailable('metrics')
        const { contentType, body } = await providers.metrics()
        return { kind: 'text', contentType, body }
      }
    }
    if (path.startsWith('/jobs/')) {
      // /jobs/:id, /jobs/:id/results or /jobs/:id/results/:name
      const [encoded = '', section, fileName, ...extra] = path.slice('/jobs/'.length).split('/')
      if ((section !== undefined && section !== 'results') || extra.length > 0)
        throw new ApiError('API_NOT_FOUND', `no route ${path}`)
      const wantsResults = section === 'results'
      let id: string
      try {
        id = decodeURIComponent(encoded)
      } catch {
        throw new ApiError('API_BAD_REQUEST', 'the job id is not valid percent-encoding')
      }
      if (!JOB_ID.test(id))
        throw new ApiError('API_BAD_REQUEST', 'the job id must be 1 to 130 letters, digits, - or _')
      if (wantsResults && fileName !== undefined) {
        if (!RESULT_FILE.test(fileName) || fileName === '.' || fileName === '..')
          throw new ApiError('API_BAD_REQUEST', 'a result file name is letters, digits, ".", "-" or "_"')
        if (providers.openJobResult === undefined) unavailable('job results')
        const stream = await providers.openJobResult(id, fileName, call)
        if (stream === undefined)
          throw new ApiError('API_NOT_FOUND', `job ${id} has no result file ${fileName}`)
        return { kind: 'stream', contentType: 'application/octet-stream', body: stream }
      }
      if (wantsResults) {
        if (providers.jobResults === undefined) unavailable('job results')
        const results = await providers.jobResults(id, call)
        if (results === undefined) throw new ApiError('API_NOT_FOUND', `unknown job ${id}`)
        return { kind: 'json', body: results }
      }
      const job = await providers.job(id, call)
      if (job === undefined) throw new ApiError('API_NOT_FOUND', `unknown job ${id}`)
      return { kind: 'json', body: job }
    }
    throw new ApiError('API_NOT_FOUND', `no route ${path}`)
  }

  /**
   * Reads the body up to `limit` bytes, refusing more. GET requests have none, so their
   * limit is small; `POST /jobs` carries paths and a few fields, so its limit is too.
   */
  function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
    const declared = Number(request.headers['content-length'] ?? 0)
    if (Number.isFinite(declared) && declared > limit) {
      return Promise.reject(new ApiError('API_PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`))
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let received = 0
      request.on('data', (chunk: Buffer) => {
        received += chunk.length
        if (received > limit) {
          request.removeAllListeners('data')
          reject(new ApiError('API_PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`))
          return
        }
        chunks.push(chunk)
      })
      request.on('end', () => resolve(Buffer.concat(chunks)))
      request.on('error', reject)
    })
  }

  async function submitJob(request: IncomingMessage, signal: AbortSignal): Promise<RouteResult> {
    // A JSON content type makes a browser preflight a cross-origin POST, which this API never
    // approves: a web page cannot submit jobs (and spend the node's money) through it.
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (type !== 'application/json')
      throw new ApiError(
        'API_UNSUPPORTED_MEDIA_TYPE',
        'POST /jobs takes a JSON body (content-type application/json)',
      )
    const origin = request.headers.origin
    if (origin !== undefined && !loopbackHosts.has(hostWithoutPort(origin.replace(/^https?:\/\//, ''))))
      throw new ApiError('API_FORBIDDEN_HOST', 'requests from web pages are refused')
    const bytes = await readBody(request, options.maxJobBodyBytes)
    let body: unknown
    try {
      body = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new ApiError('API_BAD_REQUEST', 'the body is not valid JSON')
    }
    const params = await parseSubmitJobBody(body)
    if (providers.submitJob === undefined)
      throw new ApiError(
        'API_SERVICE_UNAVAILABLE',
        'this node does not run the requester role (--role requester)',
      )
    try {
      return { kind: 'json', body: await providers.submitJob(params, { signal }) }
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

  function withTimeout<T>(
    work: (signal: AbortSignal) => Promise<T>,
    timeoutMs: number = options.handlerTimeoutMs,
  ): Promise<T> {
    return withDeadline(
      work,
      timeoutMs,
      () => new ApiError('API_TIMEOUT', `no answer within ${timeoutMs} ms`),
    )
  }

  function send(
    response: ServerResponse,
    status: number,
    contentType: string,
    body: string,
    head: boolean,
  ): void {
    response.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    response.end(head ? undefined : body)
  }

  /** Streams a result file with backpressure; an error midway cuts the connection (the client sees a short body). */
  async function sendStream(
    response: ServerResponse,
    contentType: string,
    body: AsyncIterable<Uint8Array>,
    head: boolean,
  ): Promise<void> {
    response.writeHead(200, {
      'content-type': contentType,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    if (head) {
      response.end()
      return
    }
    for await (const chunk of body) {
      if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve))
    }
    response.end()
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    let routeName = 'unknown'
    let status = 200
    const head = request.method === 'HEAD'
    try {
      if ((request.url ?? '').length > options.maxUrlLength) {
        throw new ApiError('API_URL_TOO_LONG', `URL over ${options.maxUrlLength} characters`)
      }
      const isSubmit = request.method === 'POST' && (request.url ?? '').split('?')[0] === '/jobs'
      if (request.method !== 'GET' && !head && !isSubmit) {
        response.setHeader('allow', 'GET, HEAD')
        throw new ApiError(
          'API_METHOD_NOT_ALLOWED',
          `method ${request.method} is not allowed; only POST /jobs changes anything`,
        )
      }
      if (guardHost) {
        const host = request.headers.host
        if (host === undefined || !loopbackHosts.has(hostWithoutPort(host))) {
          throw new ApiError('API_FORBIDDEN_HOST', 'the Host header must name a loopback address')
        }
      }
      const url = new URL(request.url ?? '/', 'http://api.invalid')
      routeName = isSubmit ? 'POST /jobs' : routeLabel(url.pathname)
      let result: RouteResult
      if (isSubmit) {
        result = await withTimeout((signal) => submitJob(request, signal), options.submitTimeoutMs)
      } else {
        await readBody(request, options.maxBodyBytes)
        result = await withTimeout((signal) => route(url.pathname, url.searchParams, signal))
      }
      if (result.kind === 'json')
        send(response, 200, 'application/json; charset=utf-8', toPublicJson(result.body), head)
      else if (result.kind === 'text') send(response, 200, result.contentType, result.body, head)
      else await sendStream(response, result.contentType, result.body, head)
    } catch (cause) {
      const error =
        cause instanceof ApiError
          ? cause
          : new ApiError('API_INTERNAL', 'internal error while answering the request', { cause })
      if (error.code === 'API_INTERNAL') logger.error({ err: cause, url: request.url }, 'api request failed')
      status = error.status
      if (error.code === 'API_PAYLOAD_TOO_LARGE' && !response.headersSent)
        response.setHeader('connection', 'close')
      const body = toPublicJson({
        error: {
          code: error.code,
          message: error.shortMessage,
          // the requester's own code for a rejected job (EXECUTOR_FORMAT_INVALID, ...)
          ...(error.code === 'API_JOB_REJECTED' && error.details !== undefined
            ? { reason: error.details }
            : {}),
        },
      })
      if (!response.headersSent) send(response, status, 'application/json; charset=utf-8', body, head)
      else response.destroy()
      // Discard what the client still sends; `connection: close` ends the socket after the answer.
      if (error.code === 'API_PAYLOAD_TOO_LARGE') request.resume()
    } finally {
      requests?.inc({ route: routeName, status: String(status) })
      durations?.observe({ route: routeName }, Number(process.hrtime.bigint() - started) / 1e9)
    }
  }

  return {
    get url() {
      if (port === undefined) return undefined
      const host = options.host.includes(':') ? `[${options.host}]` : options.host
      return `http://${host}:${port}`
    },
    get port() {
      return port
    },

    async start() {
      if (server !== undefined) return
      const instance = createServer(
        { maxHeaderSize: options.maxHeaderBytes, requestTimeout: options.requestTimeoutMs },
        (request, response) => {
          void handle(request, response)
        },
      )
      instance.headersTimeout = options.headersTimeoutMs
      instance.keepAliveTimeout = options.keepAliveTimeoutMs
      await new Promise<void>((resolve, reject) => {
        instance.once('error', (cause: NodeJS.ErrnoException) => {
          reject(
            new ApiError('API_LISTEN_FAILED', `cannot listen on ${options.host}:${options.port}`, {
              cause,
              details:
                cause.code === 'EADDRINUSE'
                  ? 'the port is in use (another ocn daemon?); set api.port or --api-port'
                  : cause.message,
            }),
          )
        })
        instance.listen(options.port, options.host, () => resolve())
      })
      server = instance
      port = (instance.address() as AddressInfo).port
      logger.info({ url: this.url }, 'local API listening')
    },

    async stop() {
      const instance = server
      if (instance === undefined) return
      server = undefined
      port = undefined
      await new Promise<void>((resolve) => {
        instance.close(() => resolve())
        instance.closeAllConnections()
      })
    },
  }
}
