/**
 * The `fetch` the chain client's HTTP transport sends its JSON-RPC requests with: Node's own
 * `http`/`https` over one keep-alive agent, instead of the global `fetch` (undici).
 *
 * Why: a node polls its RPC endpoint all the time (the event feed, receipts, reads), and on
 * a loaded machine that is most of an idle daemon's CPU. Measured against anvil, the global
 * `fetch` spent ~0.4 ms of CPU per JSON-RPC request and `node:http` with keep-alive ~0.15 ms
 * (docs/network.md, "An idle daemon's CPU").
 *
 * It does what viem's transport needs and no more: POST (or any method) with a string or
 * byte body, headers, an AbortSignal (viem's timeout), and a response read whole. The
 * response is size-limited like every other network read: one over `maxResponseBytes` fails
 * the request and names the limit.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

export interface RpcFetchOptions {
  /** the largest response body taken (bytes) */
  maxResponseBytes: number
  /** idle sockets kept open per endpoint */
  maxFreeSockets?: number
}

/** A response over the limit, or a socket that failed: viem reports it as an HTTP request error. */
export class RpcFetchError extends Error {
  override name = 'RpcFetchError'
}

function headerRecord(headers: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  new Headers(headers).forEach((value, key) => {
    out[key] = value
  })
  return out
}

function bodyBytes(body: RequestInit['body']): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string' || body instanceof Uint8Array) return body
  throw new RpcFetchError('the RPC fetch sends string or byte bodies only')
}

/** The whole body of `res`, failing once it passes `limit` bytes. */
function readBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    res.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        // rejected before the socket goes: destroying it reports an early close too
        reject(
          new RpcFetchError(`the RPC response is larger than ${limit} bytes; ask for a smaller block range`),
        )
        res.destroy()
        return
      }
      chunks.push(chunk)
    })
    res.on('end', () => resolve(Buffer.concat(chunks, size)))
    // an error on the body, or a 'close' before all of it came ('aborted' is deprecated): the
    // endpoint reset or dropped the connection mid-response
    const early = (cause?: unknown) =>
      reject(new RpcFetchError('the RPC endpoint closed the response early', { cause }))
    res.on('error', early)
    res.on('close', () => {
      if (!res.complete) early()
    })
  })
}

export function createRpcFetch(options: RpcFetchOptions): FetchFn {
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, maxFreeSockets: options.maxFreeSockets ?? 4 }),
    'https:': new HttpsAgent({ keepAlive: true, maxFreeSockets: options.maxFreeSockets ?? 4 }),
  }
  return (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : input)
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return Promise.reject(new RpcFetchError(`the RPC fetch speaks http and https, not ${url.protocol}`))
    const signal = init.signal ?? undefined
    if (signal?.aborted) return Promise.reject(signal.reason)
    const body = bodyBytes(init.body)
    return new Promise<Response>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest
      const req = send(url, {
        method: init.method ?? 'GET',
        headers: headerRecord(init.headers),
        agent: agents[url.protocol as 'http:' | 'https:'],
      })
      const onAbort = () =>
        req.destroy(signal?.reason instanceof Error ? signal.reason : new RpcFetchError('aborted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = () => signal?.removeEventListener('abort', onAbort)
      req.on('error', (err) => {
        done()
        reject(signal?.aborted ? signal.reason : err)
      })
      req.on('response', (res) => {
        readBody(res, options.maxResponseBytes).then(
          (bytes) => {
            done()
            const headers = new Headers()
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v)
            // a 204/304 may carry no body in a Response
            const empty = res.statusCode === 204 || res.statusCode === 304
            resolve(
              new Response(empty ? null : bytes, {
                status: res.statusCode ?? 500,
                statusText: res.statusMessage ?? '',
                headers,
              }),
            )
          },
          (err) => {
            done()
            reject(err)
          },
        )
      })
      req.end(body)
    })
  }
}
