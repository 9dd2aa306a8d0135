/** The provider's view: stake (free, locked), jobs with live progress, earnings over time, peers. */
import type { Job } from '@ocn/client'
import { useState } from 'preact/hooks'
import { formatOpen, parseOpen, shortId } from '../format.js'
import { JobTable, Problem, TokenNotice, type ViewProps, WorkProgress } from './common.js'

function StakeCard({ data, session }: ViewProps) {
  const [message, setMessage] = useState<string>()
  const balances = data.balances
  const act = async (event: Event, action: 'stake' | 'unstake') => {
    event.preventDefault()
    const input = (event.currentTarget as HTMLElement).closest('form')!.querySelector('input')!
    const amount = parseOpen(input.value)
    if (amount === undefined) return setMessage('an amount of OPEN, e.g. 100')
    try {
      const result = await session.client[action](amount)
      setMessage(`${action}d ${formatOpen(amount)} (transaction ${shortId(result.transaction)})`)
    } catch (error) {
      const coded = error as { code?: string; shortMessage?: string }
      setMessage(`${coded.code ?? 'ERROR'}: ${coded.shortMessage ?? String(error)}`)
    }
  }
  return (
    <form class="card" data-testid="stake">
      <h2>Stake</h2>
      <Problem text={data.problems.balances} />
      {balances !== undefined && (
        <dl>
          <dt>staked</dt>
          <dd>{formatOpen(balances.staked)}</dd>
          <dt>locked</dt>
          <dd>{formatOpen(balances.locked)}</dd>
          <dt>free</dt>
          <dd>{formatOpen(balances.staked - balances.locked)}</dd>
          <dt>wallet</dt>
          <dd>{formatOpen(balances.token)}</dd>
        </dl>
      )}
      <TokenNotice session={session} />
      <div class="row">
        <input name="amount" inputMode="decimal" placeholder="OPEN" />
        <button type="submit" onClick={(e) => void act(e, 'stake')}>
          stake
        </button>
        <button type="button" onClick={(e) => void act(e, 'unstake')}>
          unstake
        </button>
      </div>
      {message !== undefined && <p class="message">{message}</p>}
    </form>
  )
}

/** Earnings per settled job as bars, oldest first: a plain SVG, no chart library to ship. */
function EarningsChart({ jobs }: { jobs: Job[] }) {
  const settled = jobs
    .filter((job) => job.state === 'finalized' || job.state === 'slashed')
    .sort((a, b) => a.updatedAt - b.updatedAt)
    .slice(-40)
  if (settled.length === 0) return <p class="muted">no settled jobs yet</p>
  const amounts = settled.map((job) => Number(BigInt(job.price ?? '0') / 10n ** 14n) / 1e4)
  const most = Math.max(...amounts, 1e-9)
  const width = 12
  return (
    <svg class="chart" viewBox={`0 0 ${settled.length * width} 60`} role="img" aria-label="earnings per job">
      {settled.map((job, i) => {
        const height = Math.max(2, (amounts[i]! / most) * 56)
        return (
          <rect
            key={job.id}
            x={i * width + 1}
            y={60 - height}
            width={width - 2}
            height={height}
            class={job.state}
          >
            <title>{`${shortId(job.id)} ${job.state} ${formatOpen(job.price)}`}</title>
          </rect>
        )
      })}
    </svg>
  )
}

/** The peers the provider's bids and results travel to: how many, and each one's gossip score. */
function PeersCard({ data }: Pick<ViewProps, 'data'>) {
  // the network view's answer carries gossip scores; the plain peer list (its fallback) latencies
  const peers =
    data.network === undefined
      ? (data.peers ?? []).map((peer) => ({
          peerId: peer.peerId,
          note: peer.latencyMs === undefined ? '' : ` · ${peer.latencyMs} ms`,
        }))
      : data.network.peers.map((peer) => ({
          peerId: peer.peerId,
          note: peer.score === undefined ? '' : ` · score ${peer.score}`,
        }))
  return (
    <section class="card" data-testid="provider-peers">
      <h2>Peers</h2>
      <Problem text={data.network === undefined ? data.problems.peers : undefined} />
      <p class="figure">{peers.length} connected</p>
      <ul>
        {peers.slice(0, 8).map((peer) => (
          <li key={peer.peerId}>
            {shortId(peer.peerId)}
            {peer.note}
          </li>
        ))}
      </ul>
      {peers.length > 8 && <p class="muted">{peers.length - 8} more on the network page</p>}
    </section>
  )
}

export function ProviderView({ data, session }: ViewProps) {
  const jobs = data.jobs.filter((job) => job.role === 'provider')
  const running = jobs.filter((job) => !['finalized', 'slashed', 'expired', 'failed'].includes(job.state))
  const earned = jobs
    .filter((job) => job.state === 'finalized')
    .reduce((sum, job) => sum + BigInt(job.price ?? '0'), 0n)
  const slashed = jobs.filter((job) => job.state === 'slashed').length
  return (
    <div class="grid">
      <StakeCard data={data} session={session} />
      <section class="card" data-testid="earnings">
        <h2>Earnings</h2>
        <p class="figure">{formatOpen(earned)}</p>
        <p class="muted">
          {jobs.filter((job) => job.state === 'finalized').length} jobs paid · {slashed} slashed
        </p>
        <EarningsChart jobs={jobs} />
      </section>
      <PeersCard data={data} />
      <section class="card wide">
        <h2>Running jobs</h2>
        <JobTable jobs={running} empty="no jobs running" progress={data.progress} />
        {running.map((job) => (
          <WorkProgress key={job.id} steps={data.progress[job.id]} />
        ))}
        <h2>All jobs</h2>
        <JobTable jobs={jobs} empty="this node has not worked on a job" />
      </section>
    </div>
  )
}
