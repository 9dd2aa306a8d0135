/**
 * The executor service: inference and training jobs on a pool of single-threaded ONNX
 * Runtime workers, results committed as Merkle leaves, and the replay side verifiers use.
 * This module wires the parts: runtime.ts (pool, job signals, metrics), checks.ts,
 * inference.ts, inference-replay.ts and training-jobs.ts.
 */
import { readFile } from 'node:fs/promises'
import { keccakReady } from '@ocn/protocol'
import type { ReplayExecutor } from '@ocn/prover'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'
import { type ExecutorCapabilities, executorCapabilities } from './capabilities.js'
import { checkModel, checkProfile } from './checks.js'
import { ExecutorError } from './errors.js'
import { readTensorFiles, writeTensorFile } from './formats/index.js'
import {
  type ClaimedSequencesSource,
  type GenerationReplayOptions,
  generationReplay,
} from './generate/replay.js'
import {
  type GenerateJob,
  type GenerateResult,
  type GenerateRunOptions,
  runGeneration,
} from './generate/run.js'
import {
  checkInference,
  type InferenceJob,
  type InferenceResult,
  type InferenceRunOptions,
  runInference,
} from './inference.js'
import { type ClaimedOutputsSource, inferenceReplay } from './inference-replay.js'
import type { RunOptions } from './job-signal.js'
import { createExecutorMetrics } from './metrics.js'
import { defaultExecutorOptions, type ExecutorOptions } from './options.js'
import { type ExecutorLogger, ExecutorRuntime } from './runtime.js'
import {
  checkSequence,
  runSequence,
  type SequenceJob,
  type SequenceResult,
  type SequenceStateSource,
  sequenceReplay,
} from './sequence.js'
import { type JobSpec, parseJobSpec, type ReplayProfile } from './spec.js'
import {
  type CheckpointSource,
  checkTraining,
  runTraining,
  type TrainingJob,
  type TrainingResult,
  type TrainingRunOptions,
  trainingReplay,
} from './training-jobs.js'
import type { ModelSignature } from './worker-protocol.js'

export { modelHash } from './checks.js'
export type { ClaimedSequencesSource } from './generate/replay.js'
export type {
  GeneratedSequence,
  GenerateJob,
  GenerateResult,
  GenerateRunOptions,
  TokenEvent,
} from './generate/run.js'
export type { InferenceJob, InferenceResult } from './inference.js'
export type { RunOptions } from './job-signal.js'
export type { ExecutorLogger } from './runtime.js'
export type { SequenceJob, SequenceLeafPreimage, SequenceResult, SequenceStateSource } from './sequence.js'
export type { TrainingJob, TrainingResult } from './training-jobs.js'

export interface ExecutorInit {
  options?: Partial<ExecutorOptions>
  /** the compiled worker entry; defaults to worker.js beside this module */
  workerUrl?: URL
}

export interface ExecutorComponents {
  logger?: ExecutorLogger
  metricsRegistry?: Registry
}

export interface Executor {
  start(): Promise<void>
  stop(): Promise<void>
  readonly options: ExecutorOptions
  capabilities(): Promise<ExecutorCapabilities>
  inspectModel(model: Uint8Array, profile: ReplayProfile, options?: RunOptions): Promise<ModelSignature>
  /**
   * The checks runInference makes before any compute (spec, profile, model load in a worker,
   * inputs against the model's signature), without running it: a provider judges an offer
   * with them before bidding. Throws what runInference would throw.
   */
  checkInference(job: InferenceJob, options?: RunOptions): Promise<{ samples: number; microBatches: number }>
  /**
   * The checks a training run makes before its first step (spec, profile, dataset tensors,
   * the base model's shape, the features and targets against the network), without training.
   */
  checkTraining(job: TrainingJob): Promise<{ rows: number; checkpoints: number }>
  runInference(job: InferenceJob, options?: RunOptions & InferenceRunOptions): Promise<InferenceResult>
  runTraining(job: TrainingJob, options?: TrainingRunOptions): Promise<TrainingResult>
  /** The checks runSequence makes before any compute (sequence.ts); throws what it would throw. */
  checkSequence(
    job: SequenceJob,
    options?: RunOptions,
  ): Promise<{ streams: number; chunks: number; leaves: number }>
  /** A stateful sequence job: every stream chunk by chunk, one leaf per chunk (sequence.ts). */
  runSequence(job: SequenceJob, options?: RunOptions): Promise<SequenceResult>
  /** Verifier side of a sequence job: leaf i replayed from the provider's incoming state. */
  sequenceReplay(job: SequenceJob, source: SequenceStateSource): ReplayExecutor
  /**
   * Verifier side of an inference job: re-runs single micro-batches. Under a tolerance
   * profile, `claimedOutputs` supplies the provider's outputs of a micro-batch (they must
   * hash to the committed dataHash) and the replay compares values within the tolerance.
   */
  inferenceReplay(job: InferenceJob, source?: ClaimedOutputsSource): ReplayExecutor
  /**
   * Verifier side of a training job: re-runs segment i from checkpoint i-1, which
   * `loadCheckpoint` supplies (from the provider) and `expectedHash` vouches for (the
   * provider's committed leaf i-1, already checked against the Merkle root).
   */
  trainingReplay(job: TrainingJob, source: CheckpointSource): ReplayExecutor
  /**
   * A generate job: prompts decode in parallel on the pool, each token reported to onToken
   * as it is picked; one leaf per (prompt, position), maxNewTokens per prompt.
   */
  runGeneration(job: GenerateJob, options?: GenerateRunOptions): Promise<GenerateResult>
  /**
   * Verifier side of a generate job: the shipped sequences must rebuild `committedRoot`;
   * sampled leaves are checked from one prefill pass per prompt (matchesMicroBatch).
   */
  generationReplay(
    job: GenerateJob,
    source: ClaimedSequencesSource,
    committedRoot: Hex,
    options?: GenerationReplayOptions,
  ): ReplayExecutor
}

export function createExecutor(init: ExecutorInit = {}, components: ExecutorComponents = {}): Executor {
  const options: ExecutorOptions = { ...defaultExecutorOptions, ...init.options }
  const rt = new ExecutorRuntime(
    options,
    components.metricsRegistry ? createExecutorMetrics(components.metricsRegistry) : undefined,
    init.workerUrl ?? new URL('./worker.js', import.meta.url),
    components.logger,
  )
  return {
    options,
    async start() {
      rt.start()
      // the commitments this executor builds hash with the WebAssembly keccak from the first job
      await keccakReady()
    },
    stop: () => rt.stop(),
    capabilities: executorCapabilities,
    async inspectModel(model, profile, o = {}) {
      checkProfile(profile)
      const { signal, done } = rt.jobSignal(o)
      try {
        return await rt.signatureOf(model, checkModel(model, options.maxModelBytes), profile, signal)
      } finally {
        done()
      }
    },
    checkInference: (job, o = {}) => checkInference(rt, job, o),
    async checkTraining(job) {
      return checkTraining(rt, job)
    },
    runInference: (job, o = {}) => runInference(rt, job, o),
    runTraining: (job, o = {}) => runTraining(rt, job, o),
    inferenceReplay: (job, source) => inferenceReplay(rt, job, source),
    trainingReplay: (job, source) => trainingReplay(rt, job, source),
    checkSequence: (job, o = {}) => checkSequence(rt, job, o),
    runSequence: (job, o = {}) => runSequence(rt, job, o),
    sequenceReplay: (job, source) => sequenceReplay(rt, job, source),
    runGeneration: (job, o = {}) => runGeneration(rt, job, o),
    generationReplay: (job, source, root, options) => generationReplay(rt, job, source, root, options),
  }
}

/** Files in, outputs and leaves out: what a provider does with a fetched job. */
export async function runInferenceFiles(
  executor: Executor,
  job: { spec: JobSpec | unknown; modelPath: string; inputPaths: string[]; outputPath?: string },
  o: RunOptions = {},
): Promise<InferenceResult> {
  const spec = parseJobSpec(job.spec)
  if (spec.kind !== 'inference') throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'not an inference job spec')
  const [modelFile, inputs] = await Promise.all([
    readFile(job.modelPath, o.signal ? { signal: o.signal } : {}),
    readTensorFiles(job.inputPaths, o.signal ? { signal: o.signal } : {}),
  ])
  const model = new Uint8Array(modelFile.buffer, modelFile.byteOffset, modelFile.byteLength)
  const result = await executor.runInference(
    { spec, model, inputs },
    { ...o, keepOutputs: job.outputPath !== undefined },
  )
  if (job.outputPath && result.outputs) {
    await writeTensorFile(job.outputPath, result.outputs, { root: result.root, modelHash: result.modelHash })
  }
  return result
}
