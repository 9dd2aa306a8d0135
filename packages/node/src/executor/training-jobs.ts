/**
 * Training jobs: checked on the main thread, trained in one worker, and committed as a hash
 * chain and a Merkle tree over the checkpoints; and the verifier side, which re-runs one
 * segment from the provider's previous checkpoint.
 */
import { MerkleTree } from '@ocn/protocol'
import type { ReplayExecutor } from '@ocn/prover'
import type { Hex } from 'viem'
import { checkModel, checkProfile } from './checks.js'
import { ExecutorError } from './errors.js'
import { checkpointChain } from './hashing.js'
import type { RunOptions } from './job-signal.js'
import type { ExecutorRuntime } from './runtime.js'
import { parseJobSpec, type TrainingJobSpec } from './spec.js'
import { checkTensor, elementCount, type NamedTensors } from './tensor.js'
import { checkTrainingPlan } from './training/program.js'
import type { TrainingRunResult } from './training/run.js'

export interface TrainingJob {
  spec: TrainingJobSpec
  /** features and targets (names from spec.data, default x and y) */
  dataset: NamedTensors
  /** the base model, for fine-tuning jobs */
  model?: Uint8Array
}

export interface TrainingResult extends TrainingRunResult {
  /** h_i = SHA-256(h_{i-1} || checkpointHash_i), h_{-1} = 0 */
  chain: Hex[]
  /** Merkle tree over merkleLeaf(i, checkpointHashes[i]) */
  tree: MerkleTree
  root: Hex
}

export type TrainingRunOptions = RunOptions & {
  keepCheckpoints?: boolean
  onProgress?: (p: { checkpoint: number; step: number; loss: number | undefined }) => void
}

export interface CheckpointSource {
  loadCheckpoint(index: number): Promise<Uint8Array>
  expectedHash(index: number): Promise<Hex>
}

/** What runTraining checks on the main thread before handing the job to a worker. */
function checkTrainingJob(rt: ExecutorRuntime, job: TrainingJob): TrainingJobSpec {
  const spec = parseJobSpec(job.spec) as TrainingJobSpec
  if (spec.kind !== 'training') throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'not a training job spec')
  checkProfile(spec.profile)
  if (job.model) checkModel(job.model, rt.options.maxModelBytes)
  for (const [name, t] of Object.entries(job.dataset)) {
    checkTensor(name, t)
    if (elementCount(t.dims) > rt.options.maxTensorElements) {
      throw new ExecutorError(
        'EXECUTOR_TENSOR_TOO_LARGE',
        `dataset tensor ${name} has more elements than allowed`,
      )
    }
  }
  return spec
}

export function checkTraining(rt: ExecutorRuntime, job: TrainingJob): { rows: number; checkpoints: number } {
  const spec = checkTrainingJob(rt, job)
  // the worker's first steps (TrainingStepper.create) short of running ONNX Runtime: the
  // network from the spec or the base model, then the dataset against it
  return checkTrainingPlan(spec, job.dataset, 'baseModel' in spec.model ? job.model : undefined)
}

export function runTraining(
  rt: ExecutorRuntime,
  job: TrainingJob,
  o: TrainingRunOptions,
): Promise<TrainingResult> {
  return rt.tracked('training', async () => {
    const spec = checkTrainingJob(rt, job)
    const { signal, done } = rt.jobSignal(o)
    try {
      let lastStep = 0
      const r = await rt.running().run(
        {
          type: 'train',
          spec,
          dataset: job.dataset,
          baseModel: job.model,
          keepCheckpoints: o.keepCheckpoints !== false,
        },
        {
          signal,
          onProgress: (p) => {
            if (!('step' in p)) return
            rt.metrics?.trainingSteps.inc(p.step - lastStep)
            lastStep = p.step
            o.onProgress?.(p)
          },
        },
      )
      const tree = MerkleTree.fromDataHashes(r.checkpointHashes)
      return { ...r, chain: checkpointChain(r.checkpointHashes), tree, root: tree.root }
    } finally {
      done()
    }
  })
}

export function trainingReplay(
  rt: ExecutorRuntime,
  job: TrainingJob,
  source: CheckpointSource,
): ReplayExecutor {
  const spec = parseJobSpec(job.spec) as TrainingJobSpec
  return {
    async runMicroBatch() {
      throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'a training job has no inference micro-batches')
    },
    async runTrainingSegment(index, o = {}) {
      checkProfile(spec.profile)
      const { signal, done } = rt.jobSignal(o)
      try {
        const start = index > 0 ? await source.loadCheckpoint(index - 1) : undefined
        const expectedStartHash = index > 0 ? await source.expectedHash(index - 1) : undefined
        const r = await rt.running().run(
          {
            type: 'train-segment',
            spec,
            dataset: job.dataset,
            baseModel: job.model,
            index,
            startState: start,
            expectedStartHash,
          },
          { signal },
        )
        return r.checkpointHash
      } finally {
        done()
      }
    },
  }
}
