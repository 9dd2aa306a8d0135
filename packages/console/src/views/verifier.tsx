/** The verifier's view: spot-checks done, what they found, disputes raised and jury duty. */
import type { Job } from '@ocn/client'
import { shortId } from '../format.js'
import { JobTable, type ViewProps } from './common.js'

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
