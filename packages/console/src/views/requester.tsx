/**
 * The requester's view: submit a job (its files uploaded through the API), follow each job's
 * lifecycle, watch a generate job's tokens stream in, download checked results.
 */
import type { Job, JobKind, JobResults, Progress, UploadProgress, VerificationMode } from '@ocn/client'
import { useEffect, useState } from 'preact/hooks'
import { formatTime, parseOpen, shortId } from '../format.js'
import type { Session } from '../session.js'
import { BidList } from './bids.js'
import { JobTable, Problem, TokenNotice, type ViewProps, WorkProgress } from './common.js'
import { GeneratedTokens } from './tokens.js'

function describe(error: unknown): string {
  const coded = error as { code?: string; shortMessage?: string; message?: string }
  return `${coded.code ?? 'ERROR'}: ${coded.shortMessage ?? coded.message ?? String(error)}`
}

/** A browser file's name as the node takes it: letters, digits, ".", "-", "_"; the extension kept. */
function uploadName(file: File): string {
  const name = file.name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '')
  return name.slice(-128) || 'file'
}

/** The form's chosen file of an input, if one was chosen. */
function chosen(form: FormData, name: string): File | undefined {
  const value = form.get(name)
  return value instanceof File && value.name !== '' ? value : undefined
}

function UploadBar({ progress }: { progress: UploadProgress | undefined }) {
  if (progress === undefined) return null
  const share = progress.total === undefined || progress.total === 0 ? 1 : progress.sent / progress.total
  return (
    <p class="muted" data-testid="upload-progress">
      <progress value={share} max={1} /> uploading {progress.name}: {Math.round(share * 100)} %
    </p>
  )
}

/** The job the form describes, its files uploaded to the node through the SDK first. */
async function uploadAndSubmit(
  session: Session,
  form: FormData,
  kind: JobKind,
  onProgress: (progress: UploadProgress) => void,
): Promise<string> {
  const text = (name: string) => String(form.get(name) ?? '').trim()
  const price = text('maxPrice')
  const maxPrice = price === '' ? undefined : parseOpen(price)
  if (price !== '' && maxPrice === undefined) throw new Error('the price is an amount of OPEN, e.g. 1.5')
  const newTokens = text('maxNewTokens')
  if (newTokens !== '' && !/^[1-9]\d{0,5}$/.test(newTokens))
    throw new Error('max new tokens is a whole number from 1 (empty: not a generate job)')
  const upload = async (field: string) => {
    const file = chosen(form, field)
    if (file === undefined) throw new Error(`choose the ${field} file`)
    return (await session.client.upload(file, uploadName(file), { onProgress })).uploadId
  }
  const common = {
    modelUpload: await upload('model'),
    inputsUpload: await upload('inputs'),
    verification: text('verification') as VerificationMode,
    ...(maxPrice === undefined ? {} : { maxPrice }),
  }
  const { jobId } = await session.client.submit(
    kind === 'training'
      ? { ...common, kind, trainingSpecUpload: await upload('trainingSpec') }
      : { ...common, kind, ...(newTokens === '' ? {} : { generate: { maxNewTokens: Number(newTokens) } }) },
  )
  return jobId
}

function SubmitForm({ session }: { session: Session }) {
  const [kind, setKind] = useState<JobKind>('inference')
  const [message, setMessage] = useState<string>()
  const [busy, setBusy] = useState(false)
  const [progress, setProgress] = useState<UploadProgress>()
  const onSubmit = async (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    setBusy(true)
    setMessage(undefined)
    try {
      const jobId = await uploadAndSubmit(session, form, kind, setProgress)
      setMessage(`submitted job ${jobId}`)
    } catch (error) {
      setMessage(describe(error))
    } finally {
      setBusy(false)
      setProgress(undefined)
    }
  }
  return (
    <form class="card" onSubmit={onSubmit} data-testid="submit-form">
      <h2>Submit a job</h2>
      <TokenNotice session={session} />
      <label>
        model (.onnx, uploaded to the node)
        <input name="model" type="file" required accept=".onnx" />
      </label>
      <label>
        inputs (.safetensors or .npy)
        <input name="inputs" type="file" required accept=".safetensors,.npy" />
      </label>
      <div class="row">
        <label>
          kind
          <select
            name="kind"
            value={kind}
            onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as JobKind)}
          >
            <option value="inference">inference</option>
            <option value="training">training</option>
          </select>
        </label>
        <label>
          verification
          <select name="verification">
            <option value="replay">replay</option>
            <option value="zk">zk</option>
          </select>
        </label>
        <label>
          max price (OPEN)
          <input name="maxPrice" inputMode="decimal" placeholder="node default" />
        </label>
      </div>
      {kind === 'training' ? (
        <label>
          training spec (.json)
          <input name="trainingSpec" type="file" required accept=".json" />
        </label>
      ) : (
        <label>
          generate: max new tokens (a decoder's prompts; empty: a plain inference)
          <input name="maxNewTokens" inputMode="numeric" placeholder="not a generate job" />
        </label>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'submitting…' : 'submit'}
      </button>
      <UploadBar progress={progress} />
      {message !== undefined && <p class="message">{message}</p>}
    </form>
  )
}

function Timeline({ job, session, steps }: { job: Job; session: Session; steps: Progress[] | undefined }) {
  const [results, setResults] = useState<JobResults>()
  const [note, setNote] = useState<string>()
  useEffect(() => {
    session.client.results(job.id).then(setResults, () => setResults(undefined))
  }, [job.id, job.state, session])
  const download = async (name: string) => {
    try {
      const file = await session.client.download(job.id, name)
      const url = URL.createObjectURL(new Blob([file.bytes]))
      const link = document.createElement('a')
      link.href = url
      link.download = name
      link.click()
      URL.revokeObjectURL(url)
      setNote(`${name}: ${file.bytes.length} bytes, sha-256 ${file.verified ? 'checked' : 'not announced'}`)
    } catch (error) {
      setNote(describe(error))
    }
  }
  return (
    <section class="card" data-testid="timeline">
      <h2>Job {shortId(job.id)}</h2>
      <ol class="timeline">
        {job.history.map((entry) => (
          <li key={`${entry.state}-${entry.at}`} class={`state ${entry.state}`}>
            <b>{entry.state}</b> {formatTime(entry.at)} {entry.note === undefined ? '' : `· ${entry.note}`}
            {entry.txHash !== undefined && <span class="muted"> tx {shortId(entry.txHash)}</span>}
          </li>
        ))}
      </ol>
      <WorkProgress steps={steps} />
      <GeneratedTokens job={job} session={session} />
      <h3>Bids</h3>
      <BidList job={job} session={session} />
      <h3>Results</h3>
      {results === undefined || results.files.length === 0 ? (
        <p class="muted">no result files yet</p>
      ) : (
        <ul>
          {results.files.map((file) => (
            <li key={file.name}>
              {file.name} ({file.bytes} bytes){' '}
              <button type="button" onClick={() => void download(file.name)}>
                download
              </button>
            </li>
          ))}
        </ul>
      )}
      {note !== undefined && <p class="message">{note}</p>}
    </section>
  )
}

export function RequesterView({ data, session }: ViewProps) {
  const jobs = data.jobs.filter((job) => job.role === 'requester')
  const [selected, setSelected] = useState<string>()
  const job = jobs.find((entry) => entry.id === selected) ?? jobs[0]
  return (
    <div class="grid">
      <SubmitForm session={session} />
      <section class="card wide">
        <h2>Jobs</h2>
        <Problem text={data.problems.jobs} />
        <JobTable
          jobs={jobs}
          selected={job?.id}
          onSelect={setSelected}
          empty="no jobs submitted from this node"
          progress={data.progress}
        />
      </section>
      {job !== undefined && <Timeline job={job} session={session} steps={data.progress[job.id]} />}
    </div>
  )
}
