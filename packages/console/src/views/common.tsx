/** Pieces the views share: a job table, a lifecycle bar, a notice for what cannot be read. */
import type { Job, JobState, Progress as WorkStep } from '@ocn/client'
import { describeProgress, formatOpen, formatTime, shortId } from '../format.js'
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

/** A bar of one piece of long work (or a count where its total is unknown). */
function StepBar({ step }: { step: WorkStep }) {
  const share = step.total === undefined || step.total <= 0 ? undefined : Math.min(1, step.done / step.total)
  return (
    <span class={`progress work ${step.finished ? 'done' : ''}`} title={describeProgress(step)}>
      <span style={{ width: `${Math.round((share ?? (step.finished ? 1 : 0.5)) * 100)}%` }} />
    </span>
  )
}

/** Each piece of a job's long work as it stands: execution, transfers, replays, proving. */
export function WorkProgress({ steps }: { steps: WorkStep[] | undefined }) {
  if (steps === undefined || steps.length === 0) return null
  return (
    <ul class="work-progress" data-testid="work-progress">
      {steps.map((step) => (
        <li key={`${step.stage}-${step.label ?? ''}`} data-stage={step.stage}>
          <StepBar step={step} /> {describeProgress(step)}
        </li>
      ))}
    </ul>
  )
}

/** The job's running work as a bar where there is some, else where its lifecycle stands. */
function JobProgressCell({ job, steps }: { job: Job; steps: WorkStep[] | undefined }) {
  const running = steps?.filter((step) => !step.finished)
  const step = running?.at(-1)
  if (step === undefined) return <Progress state={job.state} />
  return (
    <span title={describeProgress(step)}>
      <StepBar step={step} />
    </span>
  )
}

export function JobTable({
  jobs,
  selected,
  onSelect,
  empty,
  progress,
}: {
  jobs: Job[]
  selected?: string | undefined
  onSelect?: (id: string) => void
  empty: string
  /** live progress per job id (NodeData.progress) */
  progress?: Record<string, WorkStep[]>
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
              <JobProgressCell job={job} steps={progress?.[job.id]} />
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
