/**
 * Inference jobs: checked against the model, cut into micro-batches that run in parallel
 * on the pool, and committed as a Merkle tree over the micro-batches' output hashes.
 */
import { MerkleTree } from '@ocn/protocol'
import type { Hex } from 'viem'
import { checkModel, checkProfile, validateInputs } from './checks.js'
import { ExecutorError } from './errors.js'
import type { RunOptions } from './job-signal.js'
import type { ExecutorOptions } from './options.js'
import type { ExecutorRuntime } from './runtime.js'
import { type InferenceJobSpec, parseJobSpec } from './spec.js'
import { concatRows, type NamedTensors, sliceRows } from './tensor.js'
import type { WorkerResults } from './worker-protocol.js'

export interface InferenceJob {
  spec: InferenceJobSpec
  model: Uint8Array
  /** tensors keyed by model input name, samples along the first axis */
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
  /** all micro-batches' outputs concatenated along the first axis (unless keepOutputs is false) */
  outputs: NamedTensors | undefined
}

/** A checked inference job: what its micro-batches run with. */
export interface InferencePlan {
  spec: InferenceJobSpec
  hash: Hex
  samples: number
  microBatches: number
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
  const samples = validateInputs(sig, job.inputs, spec.profile.microBatchSize, rt.options.maxTensorElements)
  return { spec, hash, samples, microBatches: Math.ceil(samples / spec.profile.microBatchSize) }
}

function microBatchFeeds(
  inputs: NamedTensors,
  index: number,
  m: number,
  samples: number,
  isolation: ExecutorOptions['isolation'],
): NamedTensors {
  const feeds: NamedTensors = {}
  const start = index * m
  const end = Math.min(start + m, samples)
  // Worker threads: a copy, not a view, since posting a view would clone the whole input
  // buffer (the copy is then moved, not cloned). Child processes: a view, since the IPC
  // serializer writes only the view's bytes; a copy would be one more 'external' buffer
  // per micro-batch, and those drive the main thread's GC (measured: ~15% of its CPU).
  const copy = isolation !== 'process'
  for (const [name, t] of Object.entries(inputs)) {
    const rows = sliceRows(t, start, end)
    feeds[name] = copy ? { ...rows, data: rows.data.slice() } : rows
  }
  return feeds
}

export async function runMicroBatch(
  rt: ExecutorRuntime,
  job: InferenceJob,
  plan: InferencePlan,
  index: number,
  signal: AbortSignal,
): Promise<MicroBatchResult> {
  const { spec, hash, samples } = plan
  const started = performance.now()
  const r = await rt.running().run(
    {
      type: 'infer',
      modelHash: hash,
      profile: spec.profile,
      feeds: microBatchFeeds(job.inputs, index, spec.profile.microBatchSize, samples, rt.options.isolation),
      outputs: spec.outputs,
      maxTensorElements: rt.options.maxTensorElements,
    },
    { model: { hash, bytes: job.model }, signal, transfer: true },
  )
  rt.metrics?.microBatchSeconds.observe((performance.now() - started) / 1000)
  return r
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
  o: RunOptions & { keepOutputs?: boolean },
): Promise<InferenceResult> {
  return rt.tracked('inference', async () => {
    const { signal, done } = rt.jobSignal(o)
    try {
      const plan = await planInference(rt, job, signal)
      const results = await Promise.all(
        Array.from({ length: plan.microBatches }, (_, i) => runMicroBatch(rt, job, plan, i, signal)),
      )
      return inferenceResult(plan, results, o.keepOutputs !== false)
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
      outputs[name] = concatRows(
        name,
        results.map((r) => r.outputs[name]!),
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
