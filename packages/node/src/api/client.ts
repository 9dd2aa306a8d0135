import { request } from 'node:http'
import { ApiError, type ApiErrorCode, apiErrorStatus } from './errors.js'
import type { ApiJson, ApiRoute } from './routes.js'

export interface GetApiJsonOptions {
  timeoutMs?: number
  /** Responses above this are refused: the CLI never buffers unbounded data. */
  maxBytes?: number
}

export interface PostApiJsonOptions extends GetApiJsonOptions {
  signal?: AbortSignal
  /** The node's API token (`<dataDir>/api-token`): a node that has one takes no POST without it. */
  token?: string | undefined
}

interface ApiErrorBody {
  code?: string
  message?: string
  reason?: string
}

interface ApiCall {
  method: 'GET' | 'POST'
  payload?: string
  timeoutMs: number
  maxBytes: number
  signal?: AbortSignal | undefined
  token?: string | undefined
  unreachableHint: string
  /** how an error answer (status >= 400) becomes the ApiError the CLI reports */
  errorFor: (status: number, error: ApiErrorBody | undefined) => ApiError
}

/**
 * One request to the local API: a size-limited, time-limited read of a JSON answer, every
 * failure (unreachable, timeout, oversize, not JSON, error status) turned into an ApiError.
 */
function callApi<T>(baseUrl: string, path: string, call: ApiCall): Promise<T> {
  const url = new URL(path, baseUrl)
  // a base URL may carry the token as its user part (what apiUrlWithToken makes for a node
  // served off loopback): it goes in the Authorization header, never on the wire as userinfo
  const token = call.token ?? (url.username === '' ? undefined : decodeURIComponent(url.username))
  url.username = ''
  url.password = ''
  const headers: Record<string, string | number> = { accept: 'application/json' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (call.payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = Buffer.byteLength(call.payload)
  }
  return new Promise<T>((resolve, reject) => {
    const req = request(
      url,
      {
        method: call.method,
        timeout: call.timeoutMs,
        headers,
        ...(call.signal === undefined ? {} : { signal: call.signal }),
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > call.maxBytes) {
            req.destroy(
              new ApiError(
                'API_BAD_RESPONSE',
                `the node API at ${baseUrl} sent more than ${call.maxBytes} bytes`,
              ),
            )
            return
          }
          chunks.push(chunk)
        })
        res.on('end', () => {
          let body: unknown
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
          } catch (cause) {
            reject(
              new ApiError('API_BAD_RESPONSE', `the node API at ${baseUrl} did not answer JSON`, { cause }),
            )
            return
          }
          const status = res.statusCode ?? 500
          if (status >= 400) {
            reject(call.errorFor(status, (body as { error?: ApiErrorBody }).error))
            return
          }
          resolve(body as T)
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () =>
      req.destroy(
        new ApiError(
          'API_UNREACHABLE',
          `the node API at ${baseUrl} did not answer within ${call.timeoutMs} ms`,
        ),
      ),
    )
    req.on('error', (cause: NodeJS.ErrnoException) => {
      if (cause instanceof ApiError) {
        reject(cause)
        return
      }
      reject(
        new ApiError('API_UNREACHABLE', `cannot reach the node API at ${baseUrl}: ${call.unreachableHint}`, {
          cause,
          details: cause.code ?? cause.message,
        }),
      )
    })
    req.end(call.payload)
  })
}

/** GETs a JSON document from the local API, turning every failure into an ApiError. */
export function getApiJson<T>(baseUrl: string, path: string, options: GetApiJsonOptions = {}): Promise<T> {
  return callApi<T>(baseUrl, path, {
    method: 'GET',
    timeoutMs: options.timeoutMs ?? 5_000,
    maxBytes: options.maxBytes ?? 4 * 1024 * 1024,
    unreachableHint: 'is the daemon running (ocn start)?',
    errorFor: (status, error) =>
      new ApiError('API_BAD_RESPONSE', `the node API answered ${status}: ${error?.message ?? 'no message'}`, {
        details: error?.code,
      }),
  })
}

/**
 * POSTs a JSON body to the local API. An error answer keeps the server's code (and the
 * requester's reason as `details`), so the CLI reports exactly what the node refused.
 */
export function postApiJson<T>(
  baseUrl: string,
  path: string,
  body: unknown,
  options: PostApiJsonOptions = {},
): Promise<T> {
  return callApi<T>(baseUrl, path, {
    method: 'POST',
    payload: JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
    timeoutMs: options.timeoutMs ?? 60_000,
    maxBytes: options.maxBytes ?? 1024 * 1024,
    signal: options.signal,
    token: options.token,
    unreachableHint: 'is the daemon running?',
    errorFor: (status, error) => {
      const code =
        error?.code !== undefined && error.code in apiErrorStatus
          ? (error.code as ApiErrorCode)
          : 'API_BAD_RESPONSE'
      return new ApiError(code, error?.message ?? `the node API answered ${status}`, {
        details: error?.reason === undefined ? undefined : `reason ${error.reason}`,
      })
    },
  })
}

/** GETs a JSON route of the table in routes.ts: `apiGet(url, apiRoutes.job, { id })`. */
export function apiGet<Params extends Record<string, string>, Query extends object, Response>(
  baseUrl: string,
  route: ApiRoute<Params, Query, Response, undefined, 'json'>,
  params: Params,
  options: GetApiJsonOptions & { query?: Query } = {},
): Promise<ApiJson<Response>> {
  return getApiJson<ApiJson<Response>>(baseUrl, route.path(params, options.query), options)
}

/** POSTs to a JSON route of the table in routes.ts: `apiPost(url, apiRoutes.submitJob, {}, body)`. */
export function apiPost<Params extends Record<string, string>, Query extends object, Response, Body>(
  baseUrl: string,
  route: ApiRoute<Params, Query, Response, Body, 'json'>,
  params: Params,
  body: ApiJson<Body>,
  options: PostApiJsonOptions = {},
): Promise<ApiJson<Response>> {
  return postApiJson<ApiJson<Response>>(baseUrl, route.path(params), body, options)
}

/**
 * A node's API base URL with its token as the URL's user part, for callers that hold one URL
 * per node (the devnet, the testnet): every call of this client through it sends the token.
 */
export function apiUrlWithToken(baseUrl: string, token: string | undefined): string {
  if (token === undefined || token === '') return baseUrl
  const url = new URL(baseUrl)
  url.username = encodeURIComponent(token)
  return url.toString()
}
