/**
 * The files of a job's fetched results as the API serves them: outputs, or the trained
 * model with its manifest (and attribution result), or the zk proof.
 */
import type { Hex } from 'viem'
import type { JobResultFile, JobResults } from '../../api/interface.js'
import type { JobRecord } from '../../state/records.js'
import { ATTRIBUTION_RESULT_FILE } from '../attribution.js'
import type { RequesterContext } from './context.js'

/** The files a job's results consist of, once fetched: outputs, or the trained model and its manifest. */
export function resultFiles(job: JobRecord): Array<{ name: string; hash: string }> {
  const results = job.detail?.role === 'requester' ? job.detail.results : undefined
  if (results === undefined) return []
  if (results.zk === true) return [{ name: 'zk-proof.json', hash: results.outputHash }]
  if (results.modelHash !== undefined) {
    return [
      { name: results.modelFile ?? 'model.onnx', hash: results.modelHash },
      { name: 'training-manifest.json', hash: results.outputHash },
      ...(results.attributionHash === undefined
        ? []
        : [{ name: ATTRIBUTION_RESULT_FILE, hash: results.attributionHash }]),
    ]
  }
  // a generate job's output is its manifest of tokens and logits digests (roles/generation.ts)
  if (results.tokens !== undefined) return [{ name: 'generation.json', hash: results.outputHash }]
  return [{ name: 'outputs.safetensors', hash: results.outputHash }]
}

/** The job's result files that are in the local store, with their sizes. */
export async function jobResults(
  context: Pick<RequesterContext, 'state' | 'store'>,
  id: string,
): Promise<JobResults | undefined> {
  const { state, store } = context
  const job = await state.getJob(id)
  if (job === undefined || job.role !== 'requester') return undefined
  const files: JobResultFile[] = []
  for (const file of resultFiles(job)) {
    const bytes = await store.size(file.hash as Hex)
    if (bytes !== undefined) files.push({ ...file, bytes })
  }
  return {
    jobId: job.id,
    state: job.state,
    ...(job.resultRoot === undefined ? {} : { resultRoot: job.resultRoot }),
    files,
  }
}

/** The bytes of one result file, when the job has it and the store holds it. */
export async function openJobResult(
  context: Pick<RequesterContext, 'state' | 'store'>,
  id: string,
  name: string,
  options?: { signal?: AbortSignal },
): Promise<AsyncIterable<Uint8Array> | undefined> {
  const { state, store } = context
  const job = await state.getJob(id)
  if (job === undefined || job.role !== 'requester') return undefined
  const file = resultFiles(job).find((f) => f.name === name)
  if (file === undefined || !(await store.has(file.hash as Hex))) return undefined
  return store.get(file.hash as Hex, options?.signal ? { signal: options.signal } : {})
}
