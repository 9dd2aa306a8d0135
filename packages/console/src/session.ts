/**
 * The page's link to its node: the API is the page's own origin; the token, when the node
 * has one, arrives in the URL fragment (`ocn console --print-url`), which browsers never
 * send to a server. It is kept in this tab's session storage and dropped from the address
 * bar, so it does not end up in history or a shared screenshot.
 */
import { createOcnClient, type OcnClient } from '@ocn/client'

export interface Session {
  client: OcnClient
  /** Whether the page holds a token (POSTs need one whenever the node has one). */
  hasToken: boolean
}

const KEY = 'ocn-api-token'

export function connect(
  location: Pick<Location, 'origin' | 'hash' | 'pathname' | 'search'>,
  history: Pick<History, 'replaceState'>,
  storage: Pick<Storage, 'getItem' | 'setItem'>,
): Session {
  const match = /(?:^#|&)token=([A-Za-z0-9_-]{32,256})/.exec(location.hash)
  if (match !== null) {
    storage.setItem(KEY, match[1]!)
    history.replaceState(null, '', `${location.pathname}${location.search}`)
  }
  const token = storage.getItem(KEY) ?? undefined
  return {
    client: createOcnClient({ url: location.origin, ...(token === undefined ? {} : { token }) }),
    hasToken: token !== undefined,
  }
}
