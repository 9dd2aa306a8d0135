/** The node:http plumbing of the local API: host checks, bounded body reads, answers. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError } from './errors.js'

/** What a route handler answers; the server writes it out. */
export type RouteResult =
  | { kind: 'json'; body: unknown }
  | { kind: 'text'; contentType: string; body: string }
  | { kind: 'stream'; contentType: string; body: AsyncIterable<Uint8Array> }
  | { kind: 'file'; contentType: string; body: Buffer }

/**
 * Record fields the API never serves: the salts of sealed court commitments (a challenge's
 * index, a juror's vote) stay on the node until it reveals them itself, so neither a
 * client nor the console page can learn a vote early.
 */
const SECRET_FIELDS = new Set(['salt'])

/** JSON as the API answers it: bigints as decimal strings, secret fields left out. */
export function apiJson(value: unknown): string {
  return JSON.stringify(value, (key, item: unknown) => {
    if (SECRET_FIELDS.has(key)) return undefined
    return typeof item === 'bigint' ? item.toString() : item
  })
}

export const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

export function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1)
  const colon = host.lastIndexOf(':')
  return colon === -1 ? host : host.slice(0, colon)
}

/**
 * Reads the body up to `limit` bytes, refusing more. GET requests have none, so their
 * limit is small; `POST /jobs` carries paths and a few fields, so its limit is too.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
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

export function send(
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

/**
 * A console file: the page may load only what the node serves itself (no CDN, no inline
 * script), and may not be framed by another site.
 */
function sendFile(response: ServerResponse, contentType: string, body: Buffer, head: boolean): void {
  response.writeHead(200, {
    'content-type': contentType,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
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
    // A client that went away ends the loop (and so the source, through its return()).
    if (response.destroyed) break
    if (!response.write(chunk))
      await new Promise<void>((resolve) => {
        const done = () => {
          response.off('drain', done)
          response.off('close', done)
          resolve()
        }
        response.once('drain', done)
        response.once('close', done)
      })
  }
  response.end()
}

export async function sendResult(
  response: ServerResponse,
  result: RouteResult,
  head: boolean,
): Promise<void> {
  if (result.kind === 'json')
    send(response, 200, 'application/json; charset=utf-8', apiJson(result.body), head)
  else if (result.kind === 'text') send(response, 200, result.contentType, result.body, head)
  else if (result.kind === 'file') sendFile(response, result.contentType, result.body, head)
  else await sendStream(response, result.contentType, result.body, head)
}

/** Answers `{ "error": { "code", "message" } }`, or cuts the connection once a body has begun. */
export function sendError(response: ServerResponse, error: ApiError, head: boolean): void {
  if (error.code === 'API_PAYLOAD_TOO_LARGE' && !response.headersSent)
    response.setHeader('connection', 'close')
  const body = apiJson({
    error: {
      code: error.code,
      message: error.shortMessage,
      // the requester's own code for a rejected job (EXECUTOR_FORMAT_INVALID, ...)
      ...((error.code === 'API_JOB_REJECTED' || error.code === 'API_REFUSED') && error.details !== undefined
        ? { reason: error.details }
        : {}),
    },
  })
  if (!response.headersSent) send(response, error.status, 'application/json; charset=utf-8', body, head)
  else response.destroy()
}
