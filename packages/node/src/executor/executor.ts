/**
 * The executor service: inference and training jobs on a pool of single-threaded ONNX
 * Runtime workers, results committed as Merkle leaves, and the replay side verifiers use.
 */
import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { readFile } from 'node:fs/promises'
import { MerkleTree } from '@ocn/protocol'
import type { ReplayExecutor } from '@ocn/prover'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'
import {
  assertProviderAvailable,
  type ExecutorCapabilities,
  executorCapabilities,
  ortVersion,
} from './capabilities.js'
import { compareOutputs } from './compare.js'
import { ExecutorError } from './errors.js'
import { readTensorFiles, writeTensorFile } from './formats/index.js'
import { checkpointChain, outputsDataHash } from './hashing.js'
import { createExecutorMetrics, type ExecutorMetrics } from './metrics.js'
import { defaultExecutorOptions, type ExecutorOptions } from './options.js'
import { WorkerPool } from './pool.js'
import {
  type InferenceJobSpec,
  type JobSpec,
  parseJobSpec,
  type ReplayProfile,
  type TrainingJobSpec,
} from './spec.js'
import { checkTensor, concatRows, elementCount, type NamedTensors, sliceRows } from './tensor.js'
import { datasetOf, initialMlp, makePlan } from './training/plan.js'
import type { TrainingRunResult } from './training/run.js'
import type { ModelSignature } from './worker-protocol.js'

export interface ExecutorInit {
  options?: Partial<ExecutorOptions>
  /** the compiled worker entry; defaults to worker.js beside this module */
  workerUrl?: URL
}

export interface ExecutorLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

export interface ExecutorComponents {
  logger?: ExecutorLogger
  metricsRegistry?: Registry
}

export interface RunOptions {
  signal?: AbortSignal
  /** overrides the executor's jobTimeoutMs for this job */
  timeoutMs?: number
}

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
  runInference(job: InferenceJob, options?: RunOptions & { keepOutputs?: boolean }): Promise<InferenceResult>
  runTraining(
    job: TrainingJob,
    options?: RunOptions & {
      keepCheckpoints?: boolean
      onProgress?: (p: { checkpoint: number; step: number; loss: number | undefined }) => void
    },
  ): Promise<TrainingResult>
  /**
   * Verifier side of an inference job: re-runs single micro-batches. Under a tolerance
   * profile, `claimedOutputs` supplies the provider's outputs of a micro-batch (they must
   * hash to the committed dataHash) and the replay compares values within the tolerance.
   */
  inferenceReplay(
    job: InferenceJob,
    source?: { claimedOutputs(index: number): Promise<NamedTensors> },
  ): ReplayExecutor
  /**
   * Verifier side of a training job: re-runs segment i from checkpoint i-1, which
   * `loadCheckpoint` supplies (from the provider) and `expectedHash` vouches for (the
   * provider's committed leaf i-1, already checked against the Merkle root).
   */
  trainingReplay(
    job: TrainingJob,
    source: { loadCheckpoint(index: number): Promise<Uint8Array>; expectedHash(index: number): Promise<Hex> },
  ): ReplayExecutor
}

const modelHashes = new WeakMap<Uint8Array, Hex>()

/** SHA-256 of the model bytes: the key sessions are cached under. Remembered per buffer (model buffers must not change once handed over). */
export function modelHash(model: Uint8Array): Hex {
  let hash = modelHashes.get(model)
  if (!hash) {
    hash = `0x${createHash('sha256').update(model).digest('hex')}`
    modelHashes.set(model, hash)
  }
  return hash
}

export function createExecutor(init: ExecutorInit = {}, components: ExecutorComponents = {}): Executor {
  const options: ExecutorOptions = { ...defaultExecutorOptions, ...init.options }
  const workerUrl = init.workerUrl ?? new URL('./worker.js', import.meta.url)
  const metrics: ExecutorMetrics | undefined = components.metricsRegistry
    ? createExecutorMetrics(components.metricsRegistry)
    : undefined
  let pool: WorkerPool | undefined
  const signatures = new Map<string, ModelSignature>()

  const running = (): WorkerPool => {
    if (!pool) throw new ExecutorError('EXECUTOR_NOT_RUNNING', 'the executor is not started')
    return pool
  }

  /** A signal that fires on the caller's abort or the job's wall-clock limit. */
  function jobSignal(o: RunOptions): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController()
    // every micro-batch task of the job listens on this one signal
    setMaxListeners(0, controller.signal)
    const ms = o.timeoutMs ?? options.jobTimeoutMs
    const timer = setTimeout(
      () => controller.abort(new ExecutorError('EXECUTOR_TIMEOUT', `the job ran longer than ${ms} ms`)),
      ms,
    )
    const onAbort = () => controller.abort(o.signal?.reason)
    if (o.signal?.aborted) onAbort()
    o.signal?.addEventListener('abort', onAbort, { once: true })
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(timer)
        o.signal?.removeEventListener('abort', onAbort)
      },
    }
  }

  async function tracked<T>(kind: string, work: () => Promise<T>): Promise<T> {
    try {
      const r = await work()
      metrics?.jobs.inc({ kind, outcome: 'ok' })
      return r
    } catch (error) {
      metrics?.jobs.inc({ kind, outcome: error instanceof ExecutorError ? error.code : 'unknown' })
      throw error
    }
  }

  function checkProfile(profile: ReplayProfile): void {
    if (profile.ortVersion !== ortVersion()) {
      throw new ExecutorError(
        'EXECUTOR_SPEC_INVALID',
        `the job pins ONNX Runtime ${profile.ortVersion}; this host runs ${ortVersion()}`,
        {
          details: 'results are bit-exact only under the same ONNX Runtime version',
        },
      )
    }
    assertProviderAvailable(profile.executionProvider)
  }

  function checkModel(model: Uint8Array): Hex {
    if (model.byteLength > options.maxModelBytes) {
      throw new ExecutorError('EXECUTOR_MODEL_TOO_LARGE', 'the model is larger than this executor accepts', {
        details: `${model.byteLength} bytes > ${options.maxModelBytes}`,
      })
    }
    return modelHash(model)
  }

  async function signatureOf(
    model: Uint8Array,
    hash: Hex,
    profile: ReplayProfile,
    signal: AbortSignal,
  ): Promise<ModelSignature> {
    const key = `${hash}/${profile.executionProvider}`
    const known = signatures.get(key)
    if (known) return known
    const sig = await running().run(
      { type: 'load', modelHash: hash, profile },
      { model: { hash, bytes: model }, signal },
    )
    signatures.set(key, sig)
    return sig
  }

  /** Checks inputs against the model before any compute; returns the sample count. */
  function validateInputs(sig: ModelSignature, inputs: NamedTensors, microBatchSize: number): number {
    const mismatch = (msg: string, details?: string) =>
      new ExecutorError('EXECUTOR_INPUT_MISMATCH', msg, { details })
    const expected = new Set(sig.inputs.map((i) => i.name))
    for (const name of Object.keys(inputs)) {
      if (!expected.has(name)) {
        throw mismatch(
          `input ${name} is not an input of the model`,
          `model inputs: ${[...expected].join(', ')}`,
        )
      }
    }
    let samples: number | undefined
    for (const want of sig.inputs) {
      const got = inputs[want.name]
      if (!got)
        throw mismatch(
          `the model's input ${want.name} is missing`,
          `given: ${Object.keys(inputs).join(', ')}`,
        )
      checkTensor(want.name, got)
      if (elementCount(got.dims) > options.maxTensorElements) {
        throw new ExecutorError(
          'EXECUTOR_TENSOR_TOO_LARGE',
          `input ${want.name} has more elements than allowed`,
          {
            details: `[${got.dims.join(', ')}] > ${options.maxTensorElements} elements`,
          },
        )
      }
      if (got.dtype !== want.type)
        throw mismatch(`input ${want.name} is ${got.dtype}; the model takes ${want.type}`)
      if (got.dims.length === 0)
        throw mismatch(`input ${want.name} is a scalar; inputs need a sample axis first`)
      if (want.shape) {
        if (want.shape.length !== got.dims.length) {
          throw mismatch(
            `input ${want.name} has rank ${got.dims.length}; the model takes rank ${want.shape.length}`,
            `model shape [${want.shape.join(', ')}]`,
          )
        }
        want.shape.forEach((d, i) => {
          if (typeof d !== 'number') return
          if (i === 0) {
            if (d !== microBatchSize) {
              throw mismatch(
                `input ${want.name} has a fixed batch axis of ${d}; set the profile's microBatchSize to ${d}`,
              )
            }
          } else if (d !== got.dims[i]) {
            throw mismatch(`input ${want.name} has size ${got.dims[i]} on axis ${i}; the model takes ${d}`)
          }
        })
      }
      const n = got.dims[0]!
      if (samples !== undefined && n !== samples) {
        throw mismatch(`inputs disagree on the sample count (${samples} vs ${n} for ${want.name})`)
      }
      samples = n
    }
    if (!samples) throw mismatch('the job has no samples')
    const fixedBatch = sig.inputs.find((i) => typeof i.shape?.[0] === 'number')
    if (fixedBatch && samples % microBatchSize !== 0) {
      throw mismatch(
        `input ${fixedBatch.name} has a fixed batch axis, so the sample count must be a multiple of ${microBatchSize}`,
      )
    }
    return samples
  }

  /** What runTraining checks on the main thread before handing the job to a worker. */
  function checkTrainingJob(job: TrainingJob): TrainingJobSpec {
    const spec = parseJobSpec(job.spec) as TrainingJobSpec
    if (spec.kind !== 'training') throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'not a training job spec')
    checkProfile(spec.profile)
    if (job.model) checkModel(job.model)
    for (const [name, t] of Object.entries(job.dataset)) {
      checkTensor(name, t)
      if (elementCount(t.dims) > options.maxTensorElements) {
        throw new ExecutorError(
          'EXECUTOR_TENSOR_TOO_LARGE',
          `dataset tensor ${name} has more elements than allowed`,
        )
      }
    }
    return spec
  }

  function microBatchFeeds(inputs: NamedTensors, index: number, m: number, samples: number): NamedTensors {
    const feeds: NamedTensors = {}
    const start = index * m
    const end = Math.min(start + m, samples)
    // Worker threads: a copy, not a view, since posting a view would clone the whole input
    // buffer (the copy is then moved, not cloned). Child processes: a view, since the IPC
    // serializer writes only the view's bytes; a copy would be one more 'external' buffer
    // per micro-batch, and those drive the main thread's GC (measured: ~15% of its CPU).
    const copy = options.isolation !== 'process'
    for (const [name, t] of Object.entries(inputs)) {
      const rows = sliceRows(t, start, end)
      feeds[name] = copy ? { ...rows, data: rows.data.slice() } : rows
    }
    return feeds
  }

  async function prepareInference(job: InferenceJob, signal: AbortSignal) {
    const spec = parseJobSpec(job.spec) as InferenceJobSpec
    if (spec.kind !== 'inference')
      throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'not an inference job spec')
    checkProfile(spec.profile)
    const hash = checkModel(job.model)
    const sig = await signatureOf(job.model, hash, spec.profile, signal)
    if (spec.outputs) {
      const outs = new Set(sig.outputs.map((o) => o.name))
      for (const o of spec.outputs) {
        if (!outs.has(o)) throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', `the model has no output ${o}`)
      }
    }
    const samples = validateInputs(sig, job.inputs, spec.profile.microBatchSize)
    return { spec, hash, samples, microBatches: Math.ceil(samples / spec.profile.microBatchSize) }
  }

  async function runMicroBatch(
    job: InferenceJob,
    prep: Awaited<ReturnType<typeof prepareInference>>,
    index: number,
    signal: AbortSignal,
  ) {
    const { spec, hash, samples } = prep
    const started = performance.now()
    const r = await running().run(
      {
        type: 'infer',
        modelHash: hash,
        profile: spec.profile,
        feeds: microBatchFeeds(job.inputs, index, spec.profile.microBatchSize, samples),
        outputs: spec.outputs,
        maxTensorElements: options.maxTensorElements,
      },
      { model: { hash, bytes: job.model }, signal, transfer: true },
    )
    metrics?.microBatchSeconds.observe((performance.now() - started) / 1000)
    return r
  }

  const executor: Executor = {
    options,

    async start() {
      if (pool) return
      pool = new WorkerPool({
        size: options.poolSize,
        workerMemoryMb: options.workerMemoryMb,
        sessionCacheSize: options.sessionCacheSize,
        workerUrl,
        isolation: options.isolation,
        onWorkerReplaced: (reason) => {
          metrics?.workerRestarts.inc()
          components.logger?.warn({ reason }, 'executor worker replaced')
        },
      })
    },

    async stop() {
      const p = pool
      pool = undefined
      await p?.stop()
    },

    capabilities: executorCapabilities,

    async inspectModel(model, profile, o = {}) {
      checkProfile(profile)
      const { signal, done } = jobSignal(o)
      try {
        return await signatureOf(model, checkModel(model), profile, signal)
      } finally {
        done()
      }
    },

    async checkInference(job, o = {}) {
      const { signal, done } = jobSignal(o)
      try {
        const prep = await prepareInference(job, signal)
        return { samples: prep.samples, microBatches: prep.microBatches }
      } finally {
        done()
      }
    },

    async checkTraining(job) {
      const spec = checkTrainingJob(job)
      // the worker's first steps (TrainingStepper.create): the network from the spec or the
      // base model, then the dataset against it; pure checks over bounded tensors
      const plan = makePlan(
        spec,
        initialMlp(spec, 'baseModel' in spec.model ? job.model : undefined),
        datasetOf(spec, job.dataset),
      )
      return { rows: plan.rows, checkpoints: plan.checkpointSteps.length }
    },

    runInference(job, o = {}) {
      return tracked('inference', async () => {
        const { signal, done } = jobSignal(o)
        try {
          const prep = await prepareInference(job, signal)
          const results = await Promise.all(
            Array.from({ length: prep.microBatches }, (_, i) => runMicroBatch(job, prep, i, signal)),
          )
          const dataHashes = results.map((r) => r.dataHash)
          const tree = MerkleTree.fromDataHashes(dataHashes)
          let outputs: NamedTensors | undefined
          if (o.keepOutputs !== false) {
            outputs = {}
            for (const name of Object.keys(results[0]!.outputs)) {
              outputs[name] = concatRows(
                name,
                results.map((r) => r.outputs[name]!),
              )
            }
          }
          return {
            modelHash: prep.hash,
            samples: prep.samples,
            microBatches: prep.microBatches,
            dataHashes,
            tree,
            root: tree.root,
            outputs,
          }
        } finally {
          done()
        }
      })
    },

    runTraining(job, o = {}) {
      return tracked('training', async () => {
        const spec = checkTrainingJob(job)
        const { signal, done } = jobSignal(o)
        try {
          let lastStep = 0
          const r = await running().run(
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
                metrics?.trainingSteps.inc(p.step - lastStep)
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
    },

    inferenceReplay(job, source) {
      let prepared: ReturnType<typeof prepareInference> | undefined
      const replayOne = async (index: number, signal: AbortSignal) => {
        prepared ??= prepareInference(job, signal)
        const prep = await prepared
        if (!Number.isInteger(index) || index < 0 || index >= prep.microBatches) {
          throw new ExecutorError(
            'EXECUTOR_SPEC_INVALID',
            `micro-batch ${index} is outside 0..${prep.microBatches - 1}`,
          )
        }
        return runMicroBatch(job, prep, index, signal)
      }
      const comparison = job.spec.profile.comparison
      const replay: ReplayExecutor = {
        async runMicroBatch(index, o = {}) {
          const { signal, done } = jobSignal(o)
          try {
            return (await replayOne(index, signal)).dataHash
          } finally {
            done()
          }
        },
        async runTrainingSegment() {
          throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'an inference job has no training segments')
        },
      }
      if (comparison !== 'bit-exact' && source) {
        replay.matchesMicroBatch = async (index, claimed, o = {}) => {
          const { signal, done } = jobSignal(o)
          try {
            const claimedOutputs = await source.claimedOutputs(index)
            const r = await replayOne(index, signal)
            // the shipped outputs must be the committed ones before their values count
            if (outputsDataHash(claimedOutputs).toLowerCase() !== claimed.toLowerCase()) {
              return { match: false, replayed: r.dataHash }
            }
            return {
              match: compareOutputs(claimedOutputs, r.outputs, comparison).match,
              replayed: r.dataHash,
            }
          } finally {
            done()
          }
        }
      }
      return replay
    },

    trainingReplay(job, source) {
      const spec = parseJobSpec(job.spec) as TrainingJobSpec
      return {
        async runMicroBatch() {
          throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'a training job has no inference micro-batches')
        },
        async runTrainingSegment(index, o = {}) {
          checkProfile(spec.profile)
          const { signal, done } = jobSignal(o)
          try {
            const start = index > 0 ? await source.loadCheckpoint(index - 1) : undefined
            const expectedStartHash = index > 0 ? await source.expectedHash(index - 1) : undefined
            const r = await running().run(
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
    },
  }
  return executor
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
