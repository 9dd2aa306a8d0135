/**
 * The provider's view: stake (free, locked, unbonding), its on-chain record and reputation, its
 * price floor and capacity, earnings and slashes over time, peers, jobs with live progress.
 */
import type { Balances, ProviderSummary } from '@ocn/client'
import { useState } from 'preact/hooks'
import { formatOpen, parseOpen, shortId } from '../format.js'
import { JobTable, Problem, TokenNotice, type ViewProps, WorkProgress } from './common.js'
import { EarningsChart } from './earnings-chart.js'

/** Stake on its way out: how much, and when it can be withdrawn (chain time). */
function Unbonding({ balances }: { balances: Balances }) {
  const amount = balances.unbonding ?? 0n
  if (amount === 0n) return <dd data-testid="unbonding">none</dd>
  const readyAt = Number(balances.unbondingReadyAt ?? 0n) * 1000
  const when =
    readyAt <= Date.now() ? 'withdrawable now' : `withdrawable ${new Date(readyAt).toLocaleString()}`
  return (
    <dd data-testid="unbonding">
      {formatOpen(amount)} · {when}
    </dd>
  )
}

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
          <dt>unbonding</dt>
          <Unbonding balances={balances} />
          <dt>wallet</dt>
          <dd>{formatOpen(balances.token)}</dd>
          {balances.market !== undefined && (
            <>
              <dt>market balance</dt>
              <dd data-testid="market-balance">
                {formatOpen(balances.market)}
                {balances.payoutToBalance === true ? ' · payouts credited here' : ''}
              </dd>
            </>
          )}
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

/** The provider's record in the JobMarket and the risk weight requesters rank its bids by. */
function RecordCard({
  summary,
  problem,
}: {
  summary: ProviderSummary | undefined
  problem: string | undefined
}) {
  const standing = summary?.standing
  return (
    <section class="card" data-testid="record">
      <h2>On-chain record</h2>
      <Problem text={problem} />
      {standing === undefined ? (
        <p class="muted">{summary === undefined ? 'loading' : 'the chain cannot be read now'}</p>
      ) : (
        <dl>
          <dt>jobs completed</dt>
          <dd data-field="completed">{standing.completed}</dd>
          <dt>slashed</dt>
          <dd data-field="slashed">{standing.slashed}</dd>
          <dt>no-shows</dt>
          <dd data-field="noShows">{standing.noShows}</dd>
          <dt>earned on chain</dt>
          <dd data-field="totalEarned">{formatOpen(standing.totalEarned)}</dd>
          <dt>ranking risk</dt>
          <dd
            data-field="risk"
            title="(1 + 2 × slashed + no-shows) / (1 + completed); a stranger is 1, lower ranks better"
          >
            {standing.risk.toFixed(3)}
          </dd>
        </dl>
      )}
    </section>
  )
}

/** What this provider bids at and how much it takes at once (its node's config). */
function TermsCard({ summary }: { summary: ProviderSummary | undefined }) {
  if (summary === undefined) return null
  return (
    <section class="card" data-testid="terms">
      <h2>Terms</h2>
      <dl>
        <dt>price floor</dt>
        <dd data-field="priceFloor">{formatOpen(summary.priceFloorPerSample)} per sample or step</dd>
        <dt>capacity</dt>
        <dd data-field="capacity">
          {summary.running} of {summary.maxConcurrentJobs} jobs running
        </dd>
        <dt>devices</dt>
        <dd>{summary.devices.join(', ')}</dd>
        <dt>collateral</dt>
        <dd>
          {summary.collateral.priceMultiple} × price, at most{' '}
          {Math.round(summary.collateral.maxLockedFraction * 100)}% of stake locked
        </dd>
      </dl>
    </section>
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
  const settlements = data.provider?.settlements ?? []
  const earned = settlements.reduce((sum, settlement) => sum + settlement.earned, 0n)
  const lost = settlements.reduce((sum, settlement) => sum + settlement.slashedCollateral, 0n)
  const paid = settlements.filter((settlement) => settlement.state === 'finalized').length
  return (
    <div class="grid">
      <StakeCard data={data} session={session} />
      <RecordCard summary={data.provider} problem={data.problems.provider} />
      <TermsCard summary={data.provider} />
      <section class="card wide" data-testid="earnings">
        <h2>Earnings</h2>
        <p class="figure">{formatOpen(earned)}</p>
        <p class="muted">
          {paid} jobs paid · {settlements.length - paid} slashed ({formatOpen(lost)} of collateral)
        </p>
        <EarningsChart settlements={settlements} />
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
