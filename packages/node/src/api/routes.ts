/**
 * Every route of the local API, declared once. The server matches requests against this
 * table (and labels its metrics with it); clients build their paths from it, so a path
 * string is never written by hand on either side.
 */
import type { ApiBid, ApiJob, ApiJson } from '@ocn/protocol/api'
import type { BidRecord, JobRecord } from '../state/records.js'
import type {
  ApiJobQuery,
  Balances,
  DevnetSummary,
  JobResults,
  NetworkSummary,
  NodeStatus,
  OfferSummary,
  PeerSummary,
  ProviderStandings,
  ProviderSummary,
  StakeRequest,
  StakeResult,
  SubmitJobRequest,
  UploadStatus,
  VerifierSummary,
} from './interface.js'

export type { ApiJson }

/**
 * Type-only guards: the records the node serves are the wire shapes @ocn/client reads, so a
 * field added to JobRecord or BidRecord without its wire type fails to compile here.
 */
type Assignable<From extends To, To> = [From, To]
export type WireJobCheck = Assignable<ApiJson<JobRecord>, ApiJob>
export type WireBidCheck = Assignable<Omit<ApiJson<BidRecord>, 'signature'>, ApiBid>

/** How a route answers: a JSON document, a text document, or a stream of bytes. */
export type ApiRouteFormat = 'json' | 'text' | 'bytes' | 'events'

export interface ApiRoute<
  Params extends Record<string, string> = Record<never, string>,
  Query extends object = Record<never, string>,
  Response = unknown,
  Body = undefined,
  Format extends ApiRouteFormat = 'json',
> {
  readonly method: 'GET' | 'POST'
  /** `/jobs/:id/results/:name`: a `:name` segment is a parameter. */
  readonly pattern: string
  readonly format: Format
  /** The metrics label: a fixed set, never the raw path (which a client controls). */
  readonly label: string
  /** The path (and query) for these parameters, each percent-encoded. */
  path(params: Params, query?: Query): string
  /** Type-only: what the route answers and takes. Never set at runtime. */
  readonly types?: { response: Response; body: Body }
}

function defineRoute<
  Response,
  Params extends Record<string, string> = Record<never, string>,
  Query extends object = Record<never, string>,
  Body = undefined,
  Format extends ApiRouteFormat = 'json',
>(method: 'GET' | 'POST', pattern: string, format: Format): ApiRoute<Params, Query, Response, Body, Format> {
  return {
    method,
    pattern,
    format,
    label: method === 'GET' ? pattern : `${method} ${pattern}`,
    path(params, query) {
      const path = pattern.replace(/:([A-Za-z]+)/g, (_match, name: string) =>
        encodeURIComponent(params[name as keyof Params] as string),
      )
      const search = new URLSearchParams()
      for (const [key, value] of Object.entries(query ?? {})) {
        if (value !== undefined) search.set(key, String(value as string | number))
      }
      const text = search.toString()
      return text === '' ? path : `${path}?${text}`
    },
  }
}

export const apiRoutes = {
  status: defineRoute<NodeStatus>('GET', '/status', 'json'),
  peers: defineRoute<{ peers: PeerSummary[] }>('GET', '/peers', 'json'),
  offers: defineRoute<{ offers: OfferSummary[] }>('GET', '/offers', 'json'),
  bids: defineRoute<{ bids: BidRecord[] }, Record<never, string>, { jobId?: string }>('GET', '/bids', 'json'),
  jobs: defineRoute<{ jobs: JobRecord[] }, Record<never, string>, ApiJobQuery>('GET', '/jobs', 'json'),
  submitJob: defineRoute<{ jobId: string }, Record<never, string>, Record<never, string>, SubmitJobRequest>(
    'POST',
    '/jobs',
    'json',
  ),
  /**
   * An upload's first chunk (`application/octet-stream`, at most maxUploadChunkBytes); the
   * answer's `uploadId` takes the next ones. `final=1` on the last chunk completes it.
   */
  createUpload: defineRoute<UploadStatus, Record<never, string>, { name: string; final?: 0 | 1 }, Uint8Array>(
    'POST',
    '/uploads',
    'json',
  ),
  /** The next chunk of an upload, at `offset` (the bytes the node has so far). */
  appendUpload: defineRoute<UploadStatus, { id: string }, { offset: number; final?: 0 | 1 }, Uint8Array>(
    'POST',
    '/uploads/:id',
    'json',
  ),
  balances: defineRoute<Balances>('GET', '/balances', 'json'),
  metrics: defineRoute<string, Record<never, string>, Record<never, string>, undefined, 'text'>(
    'GET',
    '/metrics',
    'text',
  ),
  network: defineRoute<NetworkSummary>('GET', '/network', 'json'),
  devnet: defineRoute<DevnetSummary>('GET', '/devnet', 'json'),
  /** this node as a provider: terms, on-chain record, settled jobs */
  provider: defineRoute<ProviderSummary>('GET', '/provider', 'json'),
  /** providers' on-chain records, for bidders: `addresses` is 1 to 32 comma-separated addresses */
  providers: defineRoute<ProviderStandings, Record<never, string>, { addresses: string }>(
    'GET',
    '/providers',
    'json',
  ),
  /** this node as a verifier: checks, disputes, jury duty, rewards */
  verifier: defineRoute<VerifierSummary>('GET', '/verifier', 'json'),
  /**
   * Server-sent events: `job` (a job record each time the node writes it), `tokens` (a run of
   * tokens a generate job's provider streamed to this requester), `ready`, `end`,
   * and with `progress=1` also `progress` (`{ progress: ProgressUpdate }`, rate-limited).
   */
  events: defineRoute<
    AsyncIterable<Uint8Array>,
    Record<never, string>,
    { jobId?: string; progress?: 0 | 1 },
    undefined,
    'events'
  >('GET', '/events', 'events'),
  stake: defineRoute<StakeResult, Record<never, string>, Record<never, string>, StakeRequest>(
    'POST',
    '/stake',
    'json',
  ),
  unstake: defineRoute<StakeResult, Record<never, string>, Record<never, string>, StakeRequest>(
    'POST',
    '/unstake',
    'json',
  ),
  /** pays `amount` into the node account's prepaid JobMarket balance (approve + deposit) */
  deposit: defineRoute<StakeResult, Record<never, string>, Record<never, string>, StakeRequest>(
    'POST',
    '/deposit',
    'json',
  ),
  /** takes `amount` out of the node account's JobMarket balance */
  withdraw: defineRoute<StakeResult, Record<never, string>, Record<never, string>, StakeRequest>(
    'POST',
    '/withdraw',
    'json',
  ),
  job: defineRoute<JobRecord, { id: string }>('GET', '/jobs/:id', 'json'),
  jobResults: defineRoute<JobResults, { id: string }>('GET', '/jobs/:id/results', 'json'),
  jobResultFile: defineRoute<
    AsyncIterable<Uint8Array>,
    { id: string; name: string },
    Record<never, string>,
    undefined,
    'bytes'
  >('GET', '/jobs/:id/results/:name', 'bytes'),
} as const

export type ApiRouteName = keyof typeof apiRoutes

export interface ApiRouteMatch {
  name: ApiRouteName
  /** The raw (still percent-encoded) path segments the pattern's parameters matched. */
  params: Record<string, string>
}

const compiled = Object.entries(apiRoutes).map(([name, route]) => ({
  name: name as ApiRouteName,
  method: route.method,
  segments: route.pattern.slice(1).split('/'),
}))

/** The route a request's method and path name, if any. */
export function matchApiRoute(method: 'GET' | 'POST', path: string): ApiRouteMatch | undefined {
  if (!path.startsWith('/')) return undefined
  const parts = path.slice(1).split('/')
  for (const route of compiled) {
    if (route.method !== method || route.segments.length !== parts.length) continue
    const params: Record<string, string> = {}
    const matches = route.segments.every((segment, i) => {
      if (segment.startsWith(':')) {
        params[segment.slice(1)] = parts[i]!
        return true
      }
      return segment === parts[i]
    })
    if (matches) return { name: route.name, params }
  }
  return undefined
}
