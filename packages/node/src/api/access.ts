/**
 * Who may use the local API. On loopback (the default) the Host check keeps web pages out
 * (no DNS rebinding); on any other address a bearer token is required for every API
 * request. Requests that change anything (every POST) need the token whenever the node has
 * one, and a browser's request must come from the node's own origin (the console).
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { ApiError } from './errors.js'
import { loopbackHosts } from './http.js'

/** At least 128 bits in the token `ocn init` writes (32 hex digits or more). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32,256}$/

export function isLoopbackHost(host: string): boolean {
  return loopbackHosts.has(host)
}

/** Refuses to serve a non-loopback address without a token, before anything listens. */
export function checkBinding(host: string, token: string): void {
  if (token !== '' && !TOKEN_SHAPE.test(token))
    throw new ApiError('API_TOKEN_REQUIRED', 'the API token must be 32 to 256 letters, digits, - or _', {
      details: 'run `ocn init` to create one',
    })
  if (!isLoopbackHost(host) && token === '')
    throw new ApiError('API_TOKEN_REQUIRED', `serving the API on ${host} (not loopback) needs a token`, {
      details: 'run `ocn init` to create the API token, or bind api.host to 127.0.0.1',
    })
}

function bearer(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer ([A-Za-z0-9_-]{1,256})$/.exec(header.trim())
  return match?.[1]
}

function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * A browser names where a request comes from (Origin, Sec-Fetch-Site); a state change is
 * taken only from the page the node serves itself. Clients that are not browsers send
 * neither header and are held to the token alone.
 */
function checkSameOrigin(request: IncomingMessage): void {
  const site = request.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    throw new ApiError('API_CROSS_ORIGIN', `a ${site} request may not change anything on this node`)
  const origin = request.headers.origin
  if (origin === undefined) return
  const host = request.headers.host
  if (host === undefined || origin !== `http://${host}`)
    throw new ApiError(
      'API_CROSS_ORIGIN',
      'requests from other web pages may not change anything on this node',
      {
        details: 'use the console the node serves, or a client that is not a browser',
      },
    )
}

/** Checks one API request (not a console file) against the binding and the token. */
export function checkAccess(
  request: IncomingMessage,
  options: { host: string; token: string; stateChange: boolean },
): void {
  const { host, token, stateChange } = options
  if (stateChange) checkSameOrigin(request)
  const needsToken = token !== '' && (stateChange || !isLoopbackHost(host))
  if (needsToken && !tokenMatches(bearer(request), token))
    throw new ApiError('API_UNAUTHORIZED', 'this request needs the node API token', {
      details: 'send `authorization: Bearer <token>`; `ocn console --print-url` shows it',
    })
}
