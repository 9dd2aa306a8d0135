/**
 * One call to the node's API over fetch (Node 20+ and browsers alike): a time limit for the
 * answer's head, the caller's AbortSignal, a size limit on every body read, and every
 * failure turned into a ClientError or the node's own NodeApiError.
 */
import { ClientError, NodeApiError } from './errors.js'

export interface Transport {
  /** The node's API, e.g. `http://127.0.0.1:7410`. */
  baseUrl: string
  token: string | undefined
  fetch: typeof fetch
  timeoutMs: number
  maxResponseBytes: number
}

export interface CallOptions {
  signal?: AbortSignal | undefined
  /** Time for the node to answer (its head, for streams); the client's default otherwise. */
  timeoutMs?: number | undefined
}

interface Opened {
  response: Response
  /** Aborts the request (and so its body); called once the body is read or dropped. */
  release(): void
  /** The abort reason as a ClientError, for a read that failed after the head came. */
  failure(cause: unknown): Error
}

/** Sends one request; resolves once the head is in and its status is not an error. */
export async function open(
  transport: Transport,
  path: string,
  init: { method: 'GET' | 'POST'; body?: string | Uint8Array<ArrayBuffer>; accept: string },
  options: CallOptions = {},
): Promise<Opened> {
  const controller = new AbortController()
  const timeoutMs = options.timeoutMs ?? transport.timeoutMs
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, timeoutMs)
  const onAbort = () => controller.abort()
  options.signal?.addEventListener('abort', onAbort)
  const release = () => {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
    controller.abort()
  }
  const failure = (cause: unknown): Error => {
    if (cause instanceof ClientError || cause instanceof NodeApiError) return cause
    if (options.signal?.aborted) return new ClientError('CLIENT_ABORTED', 'the call was aborted', { cause })
    if (timedOut)
      return new ClientError(
        'CLIENT_TIMEOUT',
        `the node at ${transport.baseUrl} did not answer within ${timeoutMs} ms`,
        {
          cause,
        },
      )
    return new ClientError('CLIENT_UNREACHABLE', `cannot reach the node at ${transport.baseUrl}`, {
      cause,
      details: 'is the daemon running (ocn start), and is the URL its API address?',
    })
  }
  if (options.signal?.aborted) {
    release()
    throw new ClientError('CLIENT_ABORTED', 'the call was aborted before it was sent')
  }
  const headers: Record<string, string> = { accept: init.accept }
  if (init.body !== undefined)
    headers['content-type'] = typeof init.body === 'string' ? 'application/json' : 'application/octet-stream'
  if (transport.token !== undefined) headers.authorization = `Bearer ${transport.token}`
  let response: Response
  try {
    response = await transport.fetch(new URL(path, transport.baseUrl), {
      method: init.method,
      headers,
      signal: controller.signal,
      ...(init.body === undefined ? {} : { body: init.body }),
    })
  } catch (cause) {
    release()
    throw failure(cause)
  }
  clearTimeout(timer)
  if (response.status >= 400) {
    const error = await errorOf(transport, response).catch((cause: unknown) => failure(cause))
    release()
    throw error
  }
  return { response, release, failure }
}

/** Reads a body whole, refusing more than `limit` bytes. */
export async function readLimited(opened: Opened, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const reader = opened.response.body?.getReader()
  if (reader === undefined) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.length
      if (size > limit)
        throw new ClientError('CLIENT_BAD_RESPONSE', `the node sent more than ${limit} bytes`, {
          details: 'raise maxResponseBytes if the answer is expected to be that large',
        })
      chunks.push(value)
    }
  } catch (cause) {
    throw opened.failure(cause)
  } finally {
    opened.release()
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return bytes
}

function parseJson(bytes: Uint8Array, baseUrl: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch (cause) {
    throw new ClientError('CLIENT_BAD_RESPONSE', `the node at ${baseUrl} did not answer JSON`, { cause })
  }
}

async function errorOf(transport: Transport, response: Response): Promise<Error> {
  const bytes = await readLimited(
    { response, release: () => {}, failure: (cause) => cause as Error },
    64 * 1024,
  )
  let body: unknown
  try {
    body = parseJson(bytes, transport.baseUrl)
  } catch {
    return new NodeApiError(response.status, 'API_BAD_RESPONSE', `the node answered HTTP ${response.status}`)
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; reason?: unknown } }).error
  const code = typeof error?.code === 'string' ? error.code : 'API_BAD_RESPONSE'
  const message =
    typeof error?.message === 'string' ? error.message : `the node answered HTTP ${response.status}`
  const reason = typeof error?.reason === 'string' ? error.reason : undefined
  return new NodeApiError(response.status, code, message, reason)
}

/**
 * A call with a JSON answer: GET, or POST with a JSON body (bigints sent as decimal strings)
 * or raw bytes (`bytes`, sent as application/octet-stream).
 */
export async function callJson<T>(
  transport: Transport,
  path: string,
  options: CallOptions & { method?: 'GET' | 'POST'; body?: unknown; bytes?: Uint8Array<ArrayBuffer> } = {},
): Promise<T> {
  const body =
    options.bytes ??
    (options.body === undefined
      ? undefined
      : JSON.stringify(options.body, (_key, value: unknown) =>
          typeof value === 'bigint' ? value.toString() : value,
        ))
  const opened = await open(
    transport,
    path,
    { method: options.method ?? 'GET', accept: 'application/json', ...(body === undefined ? {} : { body }) },
    options,
  )
  return parseJson(await readLimited(opened, transport.maxResponseBytes), transport.baseUrl) as T
}
