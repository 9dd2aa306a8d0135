/** The network view: this node, its chain and block, connected peers, offers on the market. */
import { formatOpen, formatTime, shortId } from '../format.js'
import { Problem, type ViewProps } from './common.js'

export function NetworkView({ data }: ViewProps) {
  const status = data.status
  return (
    <div class="grid">
      <section class="card" data-testid="node">
        <h2>This node</h2>
        <Problem text={data.problems.status} />
        {status !== undefined && (
          <dl>
            <dt>address</dt>
            <dd>{status.address ?? '—'}</dd>
            <dt>peer id</dt>
            <dd>{shortId(status.peerId)}</dd>
            <dt>roles</dt>
            <dd>{status.roles.join(', ') || 'none'}</dd>
            <dt>chain</dt>
            <dd>
              {status.chain?.chainId ?? '—'} · block {status.chain?.blockNumber ?? '—'} · processed to{' '}
              {status.chain?.cursor ?? '—'}
            </dd>
            <dt>listening</dt>
            <dd>{status.network?.listen.join(' ') ?? '—'}</dd>
            <dt>services</dt>
            <dd>
              {Object.entries(status.services)
                .map(([name, state]) => `${name} ${state}`)
                .join(' · ')}
            </dd>
          </dl>
        )}
      </section>
      <section class="card" data-testid="peers">
        <h2>Peers ({data.peers?.length ?? 0})</h2>
        <Problem text={data.problems.peers} />
        <ul>
          {(data.peers ?? []).map((peer) => (
            <li key={peer.peerId}>
              {shortId(peer.peerId)} {peer.latencyMs === undefined ? '' : `· ${peer.latencyMs} ms`}
            </li>
          ))}
        </ul>
      </section>
      <section class="card wide">
        <h2>Offers on the market</h2>
        <Problem text={data.problems.offers} />
        {(data.offers ?? []).length === 0 ? (
          <p class="muted">no open offers seen</p>
        ) : (
          <ul>
            {(data.offers ?? []).map((offer) => (
              <li key={offer.jobId}>
                {shortId(offer.jobId)} · {offer.kind} · up to {formatOpen(offer.maxPrice)} · seen{' '}
                {formatTime(offer.receivedAt)}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  )
}
