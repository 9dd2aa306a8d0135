import { request } from 'node:http'
import { ApiError, type ApiErrorCode, apiErrorStatus } from '../api/errors.js'

export interface GetApiJsonOptions {
  timeoutMs?: number
  /** Responses above this are refused: the CLI never buffers unbounded data. */
  maxBytes?: number
}

/** GETs a JSON document from the local API, turning every failure into an ApiError. */
export function getApiJson<T>(baseUrl: string, path: string, options: GetApiJsonOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024
  const url = new URL(path, baseUrl)
  return new Promise<T>((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', timeout: timeoutMs, headers: { accept: 'application/json' } },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > maxBytes) {
            req.destroy(
              new ApiError('API_BAD_RESPONSE', `the node API at ${baseUrl} sent more than ${maxBytes} bytes`),
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
          if ((res.statusCode ?? 500) >= 400) {
            const error = (body as { error?: { code?: string; message?: string } }).error
            reject(
              new ApiError(
                'API_BAD_RESPONSE',
                `the node API answered ${res.statusCode}: ${error?.message ?? 'no message'}`,
                { details: error?.code },
              ),
            )
            return
          }
          resolve(body as T)
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () =>
      req.destroy(
        new ApiError('API_UNREACHABLE', `the node API at ${baseUrl} did not answer within ${timeoutMs} ms`),
      ),
    )
    req.on('error', (cause: NodeJS.ErrnoException) => {
      if (cause instanceof ApiError) {
        reject(cause)
        return
      }
      reject(
        new ApiError(
          'API_UNREACHABLE',
          `cannot reach the node API at ${baseUrl}: is the daemon running (ocn start)?`,
          {
            cause,
            details: cause.code ?? cause.message,
          },
        ),
      )
    })
    req.end()
  })
}

export interface PostApiJsonOptions extends GetApiJsonOptions {
  signal?: AbortSignal
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
  const timeoutMs = options.timeoutMs ?? 60_000
  const maxBytes = options.maxBytes ?? 1024 * 1024
  const url = new URL(path, baseUrl)
  const payload = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  return new Promise<T>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        timeout: timeoutMs,
        headers: {
          accept: 'application/json',
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > maxBytes) {
            req.destroy(
              new ApiError('API_BAD_RESPONSE', `the node API at ${baseUrl} sent more than ${maxBytes} bytes`),
            )
            return
          }
          chunks.push(chunk)
        })
        res.on('end', () => {
          let parsed: unknown
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
          } catch (cause) {
            reject(
              new ApiError('API_BAD_RESPONSE', `the node API at ${baseUrl} did not answer JSON`, { cause }),
            )
            return
          }
          if ((res.statusCode ?? 500) >= 400) {
            const error = (parsed as { error?: { code?: string; message?: string; reason?: string } }).error
            const code =
              error?.code !== undefined && error.code in apiErrorStatus
                ? (error.code as ApiErrorCode)
                : 'API_BAD_RESPONSE'
            reject(
              new ApiError(code, error?.message ?? `the node API answered ${res.statusCode}`, {
                details: error?.reason === undefined ? undefined : `reason ${error.reason}`,
              }),
            )
            return
          }
          resolve(parsed as T)
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () =>
      req.destroy(
        new ApiError('API_UNREACHABLE', `the node API at ${baseUrl} did not answer within ${timeoutMs} ms`),
      ),
    )
    req.on('error', (cause: NodeJS.ErrnoException) => {
      if (cause instanceof ApiError) {
        reject(cause)
        return
      }
      reject(
        new ApiError('API_UNREACHABLE', `cannot reach the node API at ${baseUrl}: is the daemon running?`, {
          cause,
          details: cause.code ?? cause.message,
        }),
      )
    })
    req.end(payload)
  })
}
