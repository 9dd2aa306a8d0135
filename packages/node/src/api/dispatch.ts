/**
 * One request through the local API: refuse what no route takes, match the route table,
 * run the route's handler within its time limit, answer, and count it by route label.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../core/logger.js'
import { withTimeout as withDeadline } from '../core/time.js'
import type { MetricsFactory } from '../metrics/index.js'
import { checkAccess } from './access.js'
import { consoleFilePath, readConsoleFile } from './console-files.js'
import { ApiError } from './errors.js'
import { createEventStreams } from './events.js'
import { createRouteHandlers } from './handlers.js'
import { hostWithoutPort, loopbackHosts, type RouteResult, readBody, sendError, sendResult } from './http.js'
import type { ApiProviders } from './interface.js'
import type { ApiServerOptions } from './options.js'
import { type ApiRouteMatch, apiRoutes, matchApiRoute } from './routes.js'
import type { UploadStore } from './uploads.js'

function requestMetrics(metrics: MetricsFactory | undefined) {
  const requests = metrics?.counter({
    name: 'api_requests_total',
    help: 'Local API requests by route and HTTP status',
    labelNames: ['route', 'status'] as const,
  })
  const durations = metrics?.histogram({
    name: 'api_request_duration_seconds',
    help: 'Time to answer local API requests',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  })
  return (route: string, status: number, started: bigint): void => {
    requests?.inc({ route, status: String(status) })
    durations?.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9)
  }
}

interface DispatchComponents {
  providers: ApiProviders
  logger: Logger
  metrics?: MetricsFactory | undefined
  /** where uploaded files wait for a job; absent: `POST /uploads` answers 503 */
  uploads?: UploadStore | undefined
}

export function createRequestDispatch(
  options: Required<ApiServerOptions>,
  components: DispatchComponents,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const { logger } = components
  const streams = createEventStreams(
    options,
    components.providers.onJobWritten,
    // read when a stream opens: the requester role's source is added after the API starts
    (listener) => components.providers.onTokens?.(listener) ?? (() => {}),
    components.providers.onProgress,
  )
  const handlers = createRouteHandlers(components.providers, options, streams, components.uploads)
  const observe = requestMetrics(components.metrics)
  const guardHost = loopbackHosts.has(options.host)

  function withTimeout<T>(work: (signal: AbortSignal) => Promise<T>, timeoutMs: number): Promise<T> {
    return withDeadline(
      work,
      timeoutMs,
      () => new ApiError('API_TIMEOUT', `no answer within ${timeoutMs} ms`),
    )
  }

  /** Refuses what no route takes: an overlong URL, another method, a foreign Host header. */
  function admit(request: IncomingMessage, response: ServerResponse): ApiRouteMatch | undefined {
    if ((request.url ?? '').length > options.maxUrlLength) {
      throw new ApiError('API_URL_TOO_LONG', `URL over ${options.maxUrlLength} characters`)
    }
    const submit =
      request.method === 'POST' ? matchApiRoute('POST', (request.url ?? '').split('?')[0]!) : undefined
    if (request.method !== 'GET' && request.method !== 'HEAD' && submit === undefined) {
      response.setHeader('allow', 'GET, HEAD')
      throw new ApiError(
        'API_METHOD_NOT_ALLOWED',
        `method ${request.method} is not allowed; only POST /jobs, /uploads, /stake, /unstake, /deposit and /withdraw change anything`,
      )
    }
    if (guardHost) {
      const host = request.headers.host
      if (host === undefined || !loopbackHosts.has(hostWithoutPort(host))) {
        throw new ApiError('API_FORBIDDEN_HOST', 'the Host header must name a loopback address')
      }
    }
    return submit
  }

  async function answer(
    request: IncomingMessage,
    match: ApiRouteMatch | undefined,
    url: URL,
  ): Promise<RouteResult> {
    if (match === undefined && request.method !== 'POST') {
      // The console's files are public (the token is never in them); the API behind them is not.
      const file = consoleFilePath(url.pathname)
      if (file !== undefined) return readConsoleFile(options.consoleDir, file)
    }
    checkAccess(request, { host: options.host, token: options.token, stateChange: request.method === 'POST' })
    const run = (found: ApiRouteMatch) => (signal: AbortSignal) =>
      handlers[found.name]({ params: found.params, query: url.searchParams, request, signal })
    // A POST handler reads its own (larger) body, within the longer time a submission has.
    if (match !== undefined && apiRoutes[match.name].method === 'POST')
      return withTimeout(run(match), options.submitTimeoutMs)
    await readBody(request, options.maxBodyBytes)
    if (match === undefined) throw new ApiError('API_NOT_FOUND', `no route ${url.pathname}`)
    return withTimeout(run(match), options.handlerTimeoutMs)
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    let routeName = 'unknown'
    let status = 200
    const head = request.method === 'HEAD'
    try {
      let match = admit(request, response)
      const url = new URL(request.url ?? '/', 'http://api.invalid')
      match ??= matchApiRoute('GET', url.pathname)
      if (match !== undefined) routeName = apiRoutes[match.name].label
      else if (consoleFilePath(url.pathname) !== undefined) routeName = 'console'
      await sendResult(response, await answer(request, match, url), head)
    } catch (cause) {
      const error =
        cause instanceof ApiError
          ? cause
          : new ApiError('API_INTERNAL', 'internal error while answering the request', { cause })
      if (error.code === 'API_INTERNAL') logger.error({ err: cause, url: request.url }, 'api request failed')
      status = error.status
      sendError(response, error, head)
      // Discard what the client still sends; `connection: close` ends the socket after the answer.
      if (error.code === 'API_PAYLOAD_TOO_LARGE') request.resume()
    } finally {
      observe(routeName, status, started)
    }
  }

  return handle
}
