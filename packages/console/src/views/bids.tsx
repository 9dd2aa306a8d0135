/**
 * A job's bids as the requester saw them: each bidder's price and collateral, the bid's fate,
 * and the bidder's record in the JobMarket (jobs done, slashes), read by the node
 * (`GET /providers`), which is what the requester ranks bids by.
 */
import type { Bid, Job, ProviderStanding } from '@ocn/client'
import { useEffect, useState } from 'preact/hooks'
import { formatOpen, shortId } from '../format.js'
import type { Session } from '../session.js'

/** Bidders whose records are read at once (the node's limit per call). */
const MAX_BIDDERS = 32

function BidderRecord({ standing }: { standing: ProviderStanding | undefined }) {
  if (standing === undefined) return <span class="muted">record unknown</span>
  return (
    <span
      data-testid="bid-record"
      title={`ranking risk ${standing.risk.toFixed(3)}; ${standing.noShows} no-shows`}
    >
      {standing.completed} jobs done · {standing.slashed} slashed
    </span>
  )
}

export function BidList({ job, session }: { job: Job; session: Session }) {
  const [bids, setBids] = useState<Bid[]>([])
  const [standings, setStandings] = useState<Record<string, ProviderStanding>>({})
  useEffect(() => {
    const stop = new AbortController()
    const signal = stop.signal
    const load = async () => {
      const found = await session.client.bids(job.id, { signal }).catch(() => [])
      if (signal.aborted) return
      setBids(found)
      const bidders = [...new Set(found.map((bid) => bid.provider.toLowerCase()))].slice(0, MAX_BIDDERS)
      if (bidders.length === 0) return
      // a node without a chain cannot read records: the bids show without them
      const read = await session.client.providerStandings(bidders, { signal }).catch(() => [])
      if (!signal.aborted)
        setStandings(Object.fromEntries(read.map((standing) => [standing.address.toLowerCase(), standing])))
    }
    void load()
    return () => stop.abort()
  }, [job.id, job.state, session])
  if (bids.length === 0) return <p class="muted">no bids recorded</p>
  return (
    <ul data-testid="bids">
      {bids.map((bid) => (
        <li key={bid.bidId} data-status={bid.status}>
          {shortId(bid.provider)} · {formatOpen(bid.price)} · collateral {formatOpen(bid.collateral)} ·{' '}
          {bid.status} · <BidderRecord standing={standings[bid.provider.toLowerCase()]} />
        </li>
      ))}
    </ul>
  )
}
