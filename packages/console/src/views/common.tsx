/** Pieces the views share: a job table, a lifecycle bar, a notice for what cannot be read. */
import type { Job, JobState } from '@ocn/client'
import { formatOpen, formatTime, shortId } from '../format.js'
import type { NodeData } from '../live.js'
import type { Session } from '../session.js'

export interface ViewProps {
  data: NodeData
  session: Session
}

/** The happy path of a job, for its progress bar; other states show where they branched off. */
const lifecycle: JobState[] = ['offered', 'bidding', 'awarded', 'executing', 'committed', 'finalized']

export function Progress({ state }: { state: JobState }) {
  const step = lifecycle.indexOf(state)
  const failed = state === 'slashed' || state === 'failed' || state === 'expired'
  const share = step === -1 ? (state === 'challenged' ? 0.85 : 1) : (step + 1) / lifecycle.length
  return (
    <span class={`progress ${failed ? 'bad' : ''}`} title={state}>
      <span style={{ width: `${Math.round(share * 100)}%` }} />
    </span>
  )
}

export function JobTable({
  jobs,
  selected,
  onSelect,
  empty,
}: {
  jobs: Job[]
  selected?: string | undefined
  onSelect?: (id: string) => void
  empty: string
}) {
  if (jobs.length === 0) return <p class="muted">{empty}</p>
  return (
    <table data-testid="jobs">
      <thead>
        <tr>
          <th>job</th>
          <th>kind</th>
          <th>state</th>
          <th>progress</th>
          <th>price</th>
          <th>updated</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <tr
            key={job.id}
            class={job.id === selected ? 'selected' : ''}
            onClick={() => onSelect?.(job.id)}
            data-state={job.state}
          >
            <td title={job.id}>{shortId(job.id)}</td>
            <td>{job.kind}</td>
            <td class={`state ${job.state}`}>{job.state}</td>
            <td>
              <Progress state={job.state} />
            </td>
            <td>{formatOpen(job.price ?? job.maxPrice)}</td>
            <td>{formatTime(job.updatedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function Problem({ text }: { text: string | undefined }) {
  return text === undefined ? null : <p class="problem">{text}</p>
}

export function TokenNotice({ session }: { session: Session }) {
  if (session.hasToken) return null
  return (
    <p class="muted">
      Changes need the node's API token when it has one: open the address <code>ocn console --print-url</code>{' '}
      prints.
    </p>
  )
}
