/** The verifier's view: spot-checks done, what they found, disputes raised, jury duty and rewards. */
import type { Job, VerifierSummary } from '@ocn/client'
import { formatOpen, shortId } from '../format.js'
import { JobTable, Problem, type ViewProps } from './common.js'

interface Report {
  passed?: boolean
  samples?: number
  detectionProbability?: number
  mismatches?: unknown[]
}
interface Challenge {
  index?: number
  disputeId?: string
  revealed?: boolean
  abandoned?: string
}
interface Vote {
  disputeId?: string
  choice?: number
  committed?: boolean
  revealed?: boolean
  reason?: string
}

const detailOf = (job: Job) =>
  (job.detail ?? {}) as { report?: Report; challenge?: Challenge; votes?: Vote[] }

const rewardNames = { challenger: 'challenger reward', juror: 'juror fee', 'juror-penalty': 'juror penalty' }

/** What the market and the court paid this verifier (and took), from the node's summary. */
function RewardsCard({
  summary,
  problem,
}: {
  summary: VerifierSummary | undefined
  problem: string | undefined
}) {
  const rewards = summary?.rewards
  return (
    <section class="card" data-testid="rewards">
      <h2>Rewards</h2>
      <Problem text={problem} />
      {rewards !== undefined && (
        <>
          <p class="figure" data-field="total">
            {formatOpen(rewards.challenger + rewards.jurorFees - rewards.jurorPenalties)}
          </p>
          <dl>
            <dt>challenger rewards</dt>
            <dd data-field="challenger">{formatOpen(rewards.challenger)}</dd>
            <dt>juror fees</dt>
            <dd data-field="jurorFees">{formatOpen(rewards.jurorFees)}</dd>
            <dt>juror penalties</dt>
            <dd data-field="jurorPenalties">{formatOpen(rewards.jurorPenalties)}</dd>
          </dl>
          <ul>
            {rewards.entries.slice(0, 8).map((entry) => (
              <li key={`${entry.blockNumber}-${entry.kind}-${entry.jobId}`}>
                {rewardNames[entry.kind]} {formatOpen(entry.amount)} · job {shortId(entry.jobId)}
                {entry.disputeId === undefined ? '' : ` · dispute ${entry.disputeId}`}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}

/** Checks, challenges and seats as the node counts them (the job list below may be cut short). */
function StatisticsCard({ summary }: { summary: VerifierSummary | undefined }) {
  if (summary === undefined) return null
  const { challenges, jury } = summary
  return (
    <section class="card" data-testid="detection">
      <h2>Detection</h2>
      <dl>
        <dt>checks</dt>
        <dd data-field="checks">{summary.checks}</dd>
        <dt>found a mismatch</dt>
        <dd data-field="mismatches">{summary.mismatches}</dd>
        <dt>detection probability</dt>
        <dd>
          {summary.meanDetectionProbability === undefined
            ? '—'
            : `${(100 * summary.meanDetectionProbability).toFixed(1)}% mean`}
        </dd>
        <dt>challenges</dt>
        <dd data-field="challenges">
          {challenges.raised} raised · {challenges.convicted} convicted · {challenges.abandoned} given up ·{' '}
          {challenges.open} open
        </dd>
        <dt>jury seats</dt>
        <dd data-field="jury">
          {jury.seats} drawn · {jury.revealed} revealed
        </dd>
      </dl>
    </section>
  )
}

export function VerifierView({ data }: ViewProps) {
  const jobs = data.jobs.filter((job) => job.role === 'verifier')
  const checked = jobs.filter((job) => detailOf(job).report !== undefined)
  const caught = checked.filter((job) => detailOf(job).report?.passed === false)
  const disputes = jobs.filter((job) => detailOf(job).challenge !== undefined)
  const votes = jobs.flatMap((job) => (detailOf(job).votes ?? []).map((vote) => ({ job, vote })))
  return (
    <div class="grid">
      <section class="card" data-testid="checks">
        <h2>Checks</h2>
        <p class="figure">{checked.length}</p>
        <p class="muted">
          {caught.length} found a mismatch ·{' '}
          {checked.length === 0
            ? 'no detection rate yet'
            : `mean detection probability ${(
                (100 *
                  checked.reduce((sum, job) => sum + (detailOf(job).report?.detectionProbability ?? 0), 0)) /
                  checked.length
              ).toFixed(1)}%`}
        </p>
      </section>
      <StatisticsCard summary={data.verifier} />
      <RewardsCard summary={data.verifier} problem={data.problems.verifier} />
      <section class="card" data-testid="disputes">
        <h2>Disputes</h2>
        {disputes.length === 0 ? (
          <p class="muted">no challenges raised</p>
        ) : (
          <ul>
            {disputes.map((job) => {
              const challenge = detailOf(job).challenge!
              return (
                <li key={job.id}>
                  {shortId(job.id)} · leaf {challenge.index} · dispute {challenge.disputeId ?? 'pending'} ·{' '}
                  <span class={`state ${job.state}`}>{job.state}</span>
                  {challenge.abandoned !== undefined && ` · abandoned: ${challenge.abandoned}`}
                </li>
              )
            })}
          </ul>
        )}
        <h2>Jury duty</h2>
        {votes.length === 0 ? (
          <p class="muted">not drawn for a jury</p>
        ) : (
          <ul>
            {votes.map(({ job, vote }) => (
              <li key={`${job.id}-${vote.disputeId}`}>
                dispute {vote.disputeId} ·{' '}
                {vote.revealed ? 'revealed' : vote.committed ? 'committed' : 'drawn'} · {vote.reason}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section class="card wide">
        <h2>Jobs watched</h2>
        <JobTable jobs={jobs} empty="this node has not verified a job" progress={data.progress} />
      </section>
    </div>
  )
}
