/** The network view: this node, its chain, block and deployment, connected peers, offers on the market. */
import type { NodeStatus } from '@ocn/client'
import { formatOpen, formatTime, shortId } from '../format.js'
import { Problem, type ViewProps } from './common.js'

/** Under `ocn devnet`: every node (with a link to its own console) and the workload's progress. */
function DevnetCard({ data }: Pick<ViewProps, 'data'>) {
  const board = data.devnet
  if (board === undefined) return null
  const work = board.workload
  return (
    <section class="card wide" data-testid="devnet">
      <h2>Devnet ({board.nodes.length} nodes)</h2>
      {work !== undefined && (
        <p>
          <span class="progress">
            <span
              style={{ width: `${work.total === 0 ? 0 : Math.round((100 * work.settled) / work.total)}%` }}
            />
          </span>{' '}
          workload: {work.settled} of {work.total} jobs settled · {work.submitted} submitted
          {work.failed > 0 ? ` · ${work.failed} failed` : ''}
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th>node</th>
            <th>roles</th>
            <th>address</th>
            <th>console</th>
          </tr>
        </thead>
        <tbody>
          {board.nodes.map((node) => (
            <tr key={node.name} data-testid="devnet-node">
              <td>
                {node.name}
                {node.cheater ? ' (cheats)' : ''}
              </td>
              <td>{node.roles.join(', ')}</td>
              <td title={node.address}>{shortId(node.address)}</td>
              <td>{node.apiUrl === undefined ? '—' : <a href={node.apiUrl}>{node.apiUrl}</a>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

/** The protocol's contracts this node talks to, full addresses (to check against a block explorer). */
function DeploymentCard({ deployment }: { deployment: NonNullable<NodeStatus['chain']>['deployment'] }) {
  if (deployment === undefined) return null
  return (
    <section class="card" data-testid="deployment">
      <h2>Deployment</h2>
      <dl>
        {Object.entries(deployment.contracts).map(([name, address]) => [
          <dt key={`${name}-name`}>{name}</dt>,
          <dd key={`${name}-address`}>{address}</dd>,
        ])}
        <dt>deployed at block</dt>
        <dd>{deployment.deployBlock}</dd>
      </dl>
    </section>
  )
}

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
      <DeploymentCard deployment={status?.chain?.deployment} />
      <section class="card" data-testid="peers">
        <h2>Peers ({data.network?.peers.length ?? data.peers?.length ?? 0})</h2>
        <Problem text={data.problems.network ?? data.problems.peers} />
        {data.network === undefined ? (
          <ul>
            {(data.peers ?? []).map((peer) => (
              <li key={peer.peerId}>
                {shortId(peer.peerId)} {peer.latencyMs === undefined ? '' : `· ${peer.latencyMs} ms`}
              </li>
            ))}
          </ul>
        ) : (
          <table>
            <thead>
              <tr>
                <th>peer</th>
                <th>gossip score</th>
                <th>topics</th>
              </tr>
            </thead>
            <tbody>
              {data.network.peers.map((peer) => (
                <tr key={peer.peerId} data-testid="peer">
                  <td title={peer.addresses.join(' ')}>{shortId(peer.peerId)}</td>
                  <td class={(peer.score ?? 0) < 0 ? 'state slashed' : ''}>{peer.score ?? '—'}</td>
                  <td>{peer.topics.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card" data-testid="topics">
        <h2>Topics</h2>
        {(data.network?.topics ?? []).length === 0 ? (
          <p class="muted">no topics joined</p>
        ) : (
          <ul>
            {data.network!.topics.map((topic) => (
              <li key={topic.topic}>
                <code>{topic.topic}</code> · {topic.subscribers} subscribers
                {topic.meshPeers === undefined ? '' : ` · ${topic.meshPeers} in mesh`}
              </li>
            ))}
          </ul>
        )}
      </section>
      <DevnetCard data={data} />
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
