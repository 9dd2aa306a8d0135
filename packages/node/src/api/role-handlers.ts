/** The handlers of the role views' routes: `GET /provider`, `GET /providers`, `GET /verifier`. */
import { ApiError } from './errors.js'
import type { RouteResult } from './http.js'
import type { ApiProviders } from './interface.js'

/** Bidders of one job fit easily; more is a client asking for the whole market in one read. */
export const MAX_STANDINGS_PER_REQUEST = 32
const ADDRESS = /^0x[0-9a-fA-F]{40}$/

/** `addresses=0x…,0x…`: 1 to 32 distinct addresses. */
export function parseAddresses(value: string | null): string[] {
  const list = (value ?? '').split(',').filter((item) => item !== '')
  if (list.length === 0 || list.length > MAX_STANDINGS_PER_REQUEST || !list.every((a) => ADDRESS.test(a)))
    throw new ApiError(
      'API_BAD_REQUEST',
      `addresses must be 1 to ${MAX_STANDINGS_PER_REQUEST} comma-separated 0x addresses (40 hex digits each)`,
    )
  return [...new Set(list.map((a) => a.toLowerCase()))]
}

function unavailable(what: string): never {
  throw new ApiError('API_SERVICE_UNAVAILABLE', what)
}

/** What these handlers read of a request (a RouteHandler's input has more). */
type RoleHandler = (input: { query: URLSearchParams; signal: AbortSignal }) => Promise<RouteResult>

export function createRoleHandlers(
  providers: ApiProviders,
): Record<'provider' | 'providers' | 'verifier', RoleHandler> {
  return {
    provider: async ({ signal }) => {
      if (providers.providerSummary === undefined)
        unavailable('this node does not run the provider role (--role provider)')
      return { kind: 'json', body: await providers.providerSummary({ signal }) }
    },
    providers: async ({ query, signal }) => {
      const addresses = parseAddresses(query.get('addresses'))
      if (providers.providerStandings === undefined)
        unavailable('provider records are not available: the chain service is not running')
      return { kind: 'json', body: { standings: await providers.providerStandings(addresses, { signal }) } }
    },
    verifier: async ({ signal }) => {
      if (providers.verifierSummary === undefined)
        unavailable('this node does not run the verifier role (--role verifier)')
      return { kind: 'json', body: await providers.verifierSummary({ signal }) }
    },
  }
}
