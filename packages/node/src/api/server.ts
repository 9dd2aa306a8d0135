import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { nodeRoles } from '../config/options.js'
import type { Logger } from '../logging/index.js'
import type { MetricsFactory } from '../metrics/index.js'
import { toPublicJson } from '../state/codec.js'
import { isJobState } from '../state/job-state.js'
import { ApiError } from './errors.js'
import type { ApiJobQuery, ApiProviders } from './interface.js'
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

type RouteResult = { kind: 'json'; body: unknown } | { kind: 'text'; contentType: string; body: string }

const JOB_ID = /^[A-Za-z0-9_-]{1,130}$/
const staticRoutes = new Set(['/status', '/peers', '/offers', '/bids', '/jobs', '/balances', '/metrics'])

/** The route label for metrics: a fixed set, never the raw path (which a client controls). */
function routeLabel(path: string): string {
  if (staticRoutes.has(path)) return path
  return path.startsWith('/jobs/') ? '/jobs/:id' : 'unknown'
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
      let id: string
      try {
        id = decodeURIComponent(path.slice('/jobs/'.length))
      } catch {
        throw new ApiError('API_BAD_REQUEST', 'the job id is not valid percent-encoding')
      }
      if (!JOB_ID.test(id))
        throw new ApiError('API_BAD_REQUEST', 'the job id must be 1 to 130 letters, digits, - or _')
      const job = await providers.job(id, call)
      if (job === undefined) throw new ApiError('API_NOT_FOUND', `unknown job ${id}`)
      return { kind: 'json', body: job }
    }
    throw new ApiError('API_NOT_FOUND', `no route ${path}`)
  }

  /** Refuses oversized bodies; GET requests have none, so the limit is small. */
  function checkBody(request: IncomingMessage): Promise<void> {
    const declared = Number(request.headers['content-length'] ?? 0)
    if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
      return Promise.reject(
        new ApiError('API_PAYLOAD_TOO_LARGE', `request body over ${options.maxBodyBytes} bytes`),
      )
    }
    return new Promise((resolve, reject) => {
      let received = 0
      request.on('data', (chunk: Buffer) => {
        received += chunk.length
        if (received > options.maxBodyBytes) {
          request.removeAllListeners('data')
          reject(new ApiError('API_PAYLOAD_TOO_LARGE', `request body over ${options.maxBodyBytes} bytes`))
        }
      })
      request.on('end', () => resolve())
      request.on('error', reject)
    })
  }

  function withTimeout<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new ApiError('API_TIMEOUT', `no answer within ${options.handlerTimeoutMs} ms`)
        controller.abort(error)
        reject(error)
      }, options.handlerTimeoutMs)
      work(controller.signal).then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
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

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    let routeName = 'unknown'
    let status = 200
    const head = request.method === 'HEAD'
    try {
      if ((request.url ?? '').length > options.maxUrlLength) {
        throw new ApiError('API_URL_TOO_LONG', `URL over ${options.maxUrlLength} characters`)
      }
      if (request.method !== 'GET' && !head) {
        response.setHeader('allow', 'GET, HEAD')
        throw new ApiError(
          'API_METHOD_NOT_ALLOWED',
          `method ${request.method} is not allowed; the API is read-only`,
        )
      }
      if (guardHost) {
        const host = request.headers.host
        if (host === undefined || !loopbackHosts.has(hostWithoutPort(host))) {
          throw new ApiError('API_FORBIDDEN_HOST', 'the Host header must name a loopback address')
        }
      }
      await checkBody(request)
      const url = new URL(request.url ?? '/', 'http://api.invalid')
      routeName = routeLabel(url.pathname)
      const result = await withTimeout((signal) => route(url.pathname, url.searchParams, signal))
      if (result.kind === 'json')
        send(response, 200, 'application/json; charset=utf-8', toPublicJson(result.body), head)
      else send(response, 200, result.contentType, result.body, head)
    } catch (cause) {
      const error =
        cause instanceof ApiError
          ? cause
          : new ApiError('API_INTERNAL', 'internal error while answering the request', { cause })
      if (error.code === 'API_INTERNAL') logger.error({ err: cause, url: request.url }, 'api request failed')
      status = error.status
      if (error.code === 'API_PAYLOAD_TOO_LARGE' && !response.headersSent)
        response.setHeader('connection', 'close')
      const body = toPublicJson({ error: { code: error.code, message: error.shortMessage } })
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
