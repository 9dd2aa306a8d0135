/**
 * Inference jobs: checked against the model, cut into micro-batches that run in parallel
 * on the pool, and committed as a Merkle tree over the micro-batches' output hashes.
 */
import { MerkleTree } from '@ocn/protocol'
import type { Hex } from 'viem'
import { checkModel, checkProfile } from './checks.js'
import { ExecutorError } from './errors.js'
import { concatAxis, feedsOf, type InputAxes, outputAxes, validateInputAxes } from './input-axes.js'
import { fileFeedsOf, type InputFile, writeInputFile } from './input-file.js'
import type { RunOptions } from './job-signal.js'
import type { ExecutorOptions } from './options.js'
import type { ExecutorRuntime } from './runtime.js'
import { type InferenceJobSpec, parseJobSpec } from './spec.js'
import type { NamedTensors } from './tensor.js'
import type { WorkerResults } from './worker-protocol.js'

export interface InferenceJob {
  spec: InferenceJobSpec
  model: Uint8Array
  /** tensors keyed by model input name, samples along each one's batch axis (spec.inputAxes) */
  inputs: NamedTensors
}

export interface InferenceResult {
  modelHash: Hex
  samples: number
  /** ceil(samples / microBatchSize); the last one holds the remainder */
  microBatches: number
  /** per micro-batch: SHA-256 of its canonical outputs (see hashing.ts) */
  dataHashes: Hex[]
  tree: MerkleTree
  root: Hex
  /** all micro-batches' outputs joined along each output's batch axis (unless keepOutputs is false) */
  outputs: NamedTensors | undefined
}

/** A checked inference job: what its micro-batches run with. */
export interface InferencePlan {
  spec: InferenceJobSpec
  hash: Hex
  samples: number
  microBatches: number
  /** each input's batch axis or 'broadcast', declared or inferred */
  axes: InputAxes
  /** each output's batch axis, for joining the micro-batches' outputs */
  outputAxes: Record<string, number>
}

export type MicroBatchResult = WorkerResults['infer']

/** The checks before any compute: spec, profile, model load in a worker, inputs against its signature. */
export async function planInference(
  rt: ExecutorRuntime,
  job: InferenceJob,
  signal: AbortSignal,
): Promise<InferencePlan> {
  const spec = parseJobSpec(job.spec) as InferenceJobSpec
  if (spec.kind !== 'inference') throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'not an inference job spec')
  checkProfile(spec.profile)
  const hash = checkModel(job.model, rt.options.maxModelBytes)
  const sig = await rt.signatureOf(job.model, hash, spec.profile, signal)
  if (spec.outputs) {
    const outs = new Set(sig.outputs.map((o) => o.name))
    for (const o of spec.outputs) {
      if (!outs.has(o)) throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', `the model has no output ${o}`)
    }
  }
  const { samples, axes } = validateInputAxes(
    sig,
    job.inputs,
    spec.inputAxes,
    spec.profile.microBatchSize,
    rt.options.maxTensorElements,
  )
  return {
    spec,
    hash,
    samples,
    microBatches: Math.ceil(samples / spec.profile.microBatchSize),
    axes,
    outputAxes: outputAxes(sig),
  }
}

function microBatchFeeds(
  inputs: NamedTensors,
  plan: InferencePlan,
  index: number,
  isolation: ExecutorOptions['isolation'],
  file: InputFile | undefined,
): { feeds: NamedTensors; fileFeeds?: ReturnType<typeof fileFeedsOf> } {
  const m = plan.spec.profile.microBatchSize
  const start = index * m
  const end = Math.min(start + m, plan.samples)
  // Process workers read the inputs in the job's input file themselves (input-file.ts).
  const inFile = file === undefined ? {} : file.offsets
  const rest = Object.fromEntries(Object.entries(inputs).filter(([name]) => !(name in inFile)))
  // Worker threads: a copy, not a view, since posting a view would clone the whole input
  // buffer (the copy is then moved, not cloned). Child processes: a view, since the IPC
  // serializer writes only the view's bytes; a copy would be one more 'external' buffer
  // per micro-batch, and those drive the main thread's GC (measured: ~15% of its CPU).
  const copy = isolation !== 'process'
  const feeds = feedsOf(rest, plan.axes, start, end)
  if (copy) for (const [name, t] of Object.entries(feeds)) feeds[name] = { ...t, data: t.data.slice() }
  if (file === undefined) return { feeds }
  return { feeds, fileFeeds: fileFeedsOf(file, inputs, plan.axes, start, end) }
}

export async function runMicroBatch(
  rt: ExecutorRuntime,
  job: InferenceJob,
  plan: InferencePlan,
  index: number,
  signal: AbortSignal,
  file?: InputFile,
): Promise<MicroBatchResult> {
  const { spec, hash } = plan
  const started = performance.now()
  const r = await rt.running().run(
    {
      type: 'infer',
      modelHash: hash,
      profile: spec.profile,
      ...microBatchFeeds(job.inputs, plan, index, rt.options.isolation, file),
      outputs: spec.outputs,
      maxTensorElements: rt.options.maxTensorElements,
    },
    { model: { hash, bytes: job.model }, signal, transfer: true },
  )
  rt.metrics?.microBatchSeconds.observe((performance.now() - started) / 1000)
  return r
}

export interface InferenceRunOptions {
  keepOutputs?: boolean
  /** micro-batches finished of all, after each (progress; they finish in any order) */
  onMicroBatch?: (done: number, total: number) => void
}

export async function checkInference(
  rt: ExecutorRuntime,
  job: InferenceJob,
  o: RunOptions,
): Promise<{ samples: number; microBatches: number }> {
  const { signal, done } = rt.jobSignal(o)
  try {
    const plan = await planInference(rt, job, signal)
    return { samples: plan.samples, microBatches: plan.microBatches }
  } finally {
    done()
  }
}

export function runInference(
  rt: ExecutorRuntime,
  job: InferenceJob,
  o: RunOptions & InferenceRunOptions,
): Promise<InferenceResult> {
  return rt.tracked('inference', async () => {
    const { signal, done } = rt.jobSignal(o)
    try {
      const plan = await planInference(rt, job, signal)
      // process workers read their rows from a file rather than over IPC (input-file.ts)
      const file =
        rt.options.isolation === 'process' && plan.microBatches > 1
          ? await writeInputFile(job.inputs, plan.axes)
          : undefined
      try {
        let finished = 0
        o.onMicroBatch?.(0, plan.microBatches)
        const results = await Promise.all(
          Array.from({ length: plan.microBatches }, async (_, i) => {
            const result = await runMicroBatch(rt, job, plan, i, signal, file)
            o.onMicroBatch?.(++finished, plan.microBatches)
            return result
          }),
        )
        return inferenceResult(plan, results, o.keepOutputs !== false)
      } finally {
        await file?.remove()
      }
    } finally {
      done()
    }
  })
}

/** The micro-batches' output hashes as Merkle leaves, and their outputs joined back in order. */
function inferenceResult(
  plan: InferencePlan,
  results: MicroBatchResult[],
  keepOutputs: boolean,
): InferenceResult {
  const dataHashes = results.map((r) => r.dataHash)
  const tree = MerkleTree.fromDataHashes(dataHashes)
  let outputs: NamedTensors | undefined
  if (keepOutputs) {
    outputs = {}
    for (const name of Object.keys(results[0]!.outputs)) {
      outputs[name] = concatAxis(
        name,
        results.map((r) => r.outputs[name]!),
        plan.outputAxes[name] ?? 0,
      )
    }
  }
  return {
    modelHash: plan.hash,
    samples: plan.samples,
    microBatches: plan.microBatches,
    dataHashes,
    tree,
    root: tree.root,
    outputs,
  }
}
