/**
 * Runs training-step graphs in ONNX Runtime. Used inside executor workers only (this module
 * loads onnxruntime-node and blocks while a step runs).
 */
import { encodeOnnxModel } from '@ocn/prover/onnx'
import * as ort from 'onnxruntime-node'
import type { Hex } from 'viem'
import { ExecutorError } from '../errors.js'
import { encodeSafetensors } from '../formats/safetensors.js'
import { checkpointHash } from '../hashing.js'
import { createSession } from '../session-options.js'
import type { ReplayProfile, TrainingHeadSpec, TrainingJobSpec } from '../spec.js'
import {
  concatRows,
  gatherRows,
  type HostTensor,
  type NamedTensors,
  sliceRows,
  typedView,
} from '../tensor.js'
import { ADAM_STEP_FEED, FEATURES_FEED, LOSS_OUTPUT, stateSuffixes, TARGETS_FEED } from './graph.js'
import { type Backbone, backboneModel, HEAD_FEATURES } from './head.js'
import {
  DataOrder,
  initialStateOf,
  stepOf,
  type TrainingDataset,
  type TrainingPlan,
  withStep,
} from './plan.js'
import {
  baseModelOf,
  headProgram,
  loraProgram,
  mlpProgram,
  type ProgramOptions,
  type TrainingProgram,
} from './program.js'

export interface TrainingRunResult {
  /** the trained model as an ONNX inference graph */
  model: Uint8Array
  /** loss of every optimizer step, in order */
  lossCurve: number[]
  checkpointSteps: number[]
  checkpointHashes: Hex[]
  /** each checkpoint's full state as safetensors (for verifiers replaying a segment) */
  checkpoints: Uint8Array[]
}

export function toOrtTensor(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.dtype, typedView(t) as never, t.dims)
}

export function fromOrtTensor(t: ort.Tensor): HostTensor {
  const data = t.data as ArrayBufferView
  return {
    dtype: t.type as HostTensor['dtype'],
    dims: [...t.dims],
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  }
}

/**
 * A head's features: the backbone run over the dataset's features in dataset order,
 * `chunkRows` rows per run, under the job's profile (head.ts says why they are recomputed).
 */
export async function backboneFeatures(
  backbone: Backbone,
  input: HostTensor,
  profile: ReplayProfile,
  chunkRows: number,
): Promise<HostTensor> {
  const session = await createSession(encodeOnnxModel(backbone.model), profile, (details, cause) => {
    return new ExecutorError('EXECUTOR_MODEL_INVALID', 'ONNX Runtime cannot load the backbone', {
      details,
      cause,
    })
  })
  try {
    const rows = input.dims[0] ?? 0
    const parts: HostTensor[] = []
    for (let start = 0; start < rows; start += chunkRows) {
      const feeds = {
        [backbone.input]: toOrtTensor(sliceRows(input, start, Math.min(rows, start + chunkRows))),
      }
      let out: ort.Tensor
      try {
        out = (await session.run(feeds, [HEAD_FEATURES]))[HEAD_FEATURES] as ort.Tensor
      } catch (cause) {
        throw new ExecutorError('EXECUTOR_RUN_FAILED', `the backbone failed on rows ${start}..`, {
          details: cause instanceof Error ? cause.message : String(cause),
          cause,
        })
      }
      if (out.type !== 'float32') {
        throw new ExecutorError(
          'EXECUTOR_MODEL_INVALID',
          `a head needs float32 features, the backbone gives ${out.type}`,
        )
      }
      const t = fromOrtTensor(out)
      parts.push({ ...t, data: t.data.slice() })
    }
    return concatRows(HEAD_FEATURES, parts)
  } finally {
    await session.release()
  }
}

/**
 * The program of a job (program.ts); a head's needs its features computed first. Attribution
 * builds one for its validation rows too, so they pass through the same frozen backbone.
 */
export async function trainingProgram(
  spec: TrainingJobSpec,
  data: TrainingDataset,
  baseModel: Uint8Array | undefined,
  options: ProgramOptions = {},
): Promise<TrainingProgram> {
  const model = spec.model
  if ('lora' in model) return loraProgram(spec, model.lora, data, baseModel, options)
  if (!('head' in model)) return mlpProgram(spec, data, baseModel, options)
  const head: TrainingHeadSpec = model.head
  const backbone = backboneModel(baseModelOf(spec, baseModel), head)
  const features = await backboneFeatures(backbone, data.features, spec.profile, spec.batchSize)
  return headProgram(spec, head, backbone, { features, targets: data.targets }, options)
}

export class TrainingStepper {
  readonly plan: TrainingPlan
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly program: TrainingProgram,
    private readonly order: DataOrder,
  ) {
    this.plan = program.plan
  }

  static async create(
    spec: TrainingJobSpec,
    data: TrainingDataset,
    baseModel?: Uint8Array,
  ): Promise<TrainingStepper> {
    const program = await trainingProgram(spec, data, baseModel)
    const refused = (details: string, cause: unknown) =>
      new ExecutorError('EXECUTOR_RUN_FAILED', 'ONNX Runtime refused the training-step graph', {
        details,
        cause,
      })
    const session = await createSession(encodeOnnxModel(program.graph), spec.profile, refused)
    return new TrainingStepper(session, program, new DataOrder(program.plan))
  }

  initialState(): NamedTensors {
    return initialStateOf(this.plan.spec, this.program.initialParams)
  }

  /** One optimizer step; returns the next state and the batch loss. */
  async step(state: NamedTensors): Promise<{ state: NamedTensors; loss: number }> {
    const step = stepOf(state)
    const rows = this.order.rowsOf(step)
    const feeds: Record<string, ort.Tensor> = {
      [FEATURES_FEED]: toOrtTensor(gatherRows(this.program.data.features, rows)),
      [TARGETS_FEED]: toOrtTensor(gatherRows(this.program.data.targets, rows)),
    }
    const names = this.program.params.map((p) => p.name)
    const suffixes = stateSuffixes(this.plan.spec.optimizer)
    for (const p of names) {
      feeds[p] = toOrtTensor(state[p]!)
      for (const s of suffixes) feeds[`${p}.${s}`] = toOrtTensor(state[`${p}.${s}`]!)
    }
    if (this.plan.spec.optimizer.type === 'adam') {
      feeds[ADAM_STEP_FEED] = new ort.Tensor('float32', Float32Array.of(step + 1), [])
    }
    let out: ort.InferenceSession.OnnxValueMapType
    try {
      out = await this.session.run(feeds)
    } catch (cause) {
      throw new ExecutorError('EXECUTOR_RUN_FAILED', `training step ${step} failed`, {
        details: cause instanceof Error ? cause.message : String(cause),
        cause,
      })
    }
    const next: NamedTensors = {}
    for (const p of names) {
      next[p] = fromOrtTensor(out[`next.${p}`] as ort.Tensor)
      for (const s of suffixes) next[`${p}.${s}`] = fromOrtTensor(out[`next.${p}.${s}`] as ort.Tensor)
    }
    const loss = (out[LOSS_OUTPUT] as ort.Tensor).data as Float32Array
    return { state: withStep(next, step + 1), loss: loss[0]! }
  }

  /** Runs steps until the state's step counter reaches `until`. */
  async runUntil(
    state: NamedTensors,
    until: number,
    onLoss?: (loss: number) => void,
    cancelled?: () => boolean,
  ): Promise<NamedTensors> {
    let s = state
    while (stepOf(s) < until) {
      if (cancelled?.())
        throw new ExecutorError('EXECUTOR_ABORTED', 'training stopped: the job was aborted or timed out')
      const r = await this.step(s)
      s = r.state
      onLoss?.(r.loss)
    }
    return s
  }

  /** The job's result for `state` (an inference model, or a LoRA job's adapters file). */
  exportModel(state: NamedTensors): Uint8Array {
    return this.program.exportResult(state)
  }

  async release(): Promise<void> {
    await this.session.release()
  }
}

export async function runTraining(
  spec: TrainingJobSpec,
  data: TrainingDataset,
  baseModel: Uint8Array | undefined,
  hooks: {
    onCheckpoint?: (index: number, step: number, loss: number | undefined) => void
    keepCheckpoints?: boolean
    cancelled?: () => boolean
  } = {},
): Promise<TrainingRunResult> {
  const stepper = await TrainingStepper.create(spec, data, baseModel)
  try {
    const { checkpointSteps } = stepper.plan
    const lossCurve: number[] = []
    const checkpointHashes: Hex[] = []
    const checkpoints: Uint8Array[] = []
    let state = stepper.initialState()
    for (let i = 0; i < checkpointSteps.length; i++) {
      state = await stepper.runUntil(state, checkpointSteps[i]!, (l) => lossCurve.push(l), hooks.cancelled)
      checkpointHashes.push(checkpointHash(state))
      if (hooks.keepCheckpoints !== false) checkpoints.push(encodeSafetensors(state))
      hooks.onCheckpoint?.(i, checkpointSteps[i]!, lossCurve[lossCurve.length - 1])
    }
    return { model: stepper.exportModel(state), lossCurve, checkpointSteps, checkpointHashes, checkpoints }
  } finally {
    await stepper.release()
  }
}

/**
 * Re-executes segment `index` (checkpoint index-1 -> index) from the given start state and
 * returns checkpoint `index`'s hash; index 0 recomputes the initial state.
 */
export async function replayTrainingSegment(
  spec: TrainingJobSpec,
  data: TrainingDataset,
  baseModel: Uint8Array | undefined,
  index: number,
  startState: NamedTensors | undefined,
  cancelled?: () => boolean,
): Promise<Hex> {
  const stepper = await TrainingStepper.create(spec, data, baseModel)
  try {
    const steps = stepper.plan.checkpointSteps
    if (!Number.isInteger(index) || index < 0 || index >= steps.length) {
      throw new ExecutorError(
        'EXECUTOR_SPEC_INVALID',
        `training segment ${index} is outside 0..${steps.length - 1}`,
      )
    }
    if (index === 0) return checkpointHash(stepper.initialState())
    if (!startState)
      throw new ExecutorError('EXECUTOR_SPEC_INVALID', `segment ${index} needs checkpoint ${index - 1}`)
    const reference = stepper.initialState()
    for (const [name, t] of Object.entries(reference)) {
      const got = startState[name]
      if (!got || got.dtype !== t.dtype || got.dims.join(',') !== t.dims.join(',')) {
        throw new ExecutorError(
          'EXECUTOR_INPUT_MISMATCH',
          `checkpoint ${index - 1} lacks or misshapes ${name}`,
        )
      }
    }
    if (Object.keys(startState).length !== Object.keys(reference).length) {
      throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', `checkpoint ${index - 1} holds unexpected tensors`)
    }
    if (stepOf(startState) !== steps[index - 1]) {
      throw new ExecutorError(
        'EXECUTOR_INPUT_MISMATCH',
        `checkpoint ${index - 1} is at step ${stepOf(startState)}`,
        {
          details: `the plan puts it at step ${steps[index - 1]}`,
        },
      )
    }
    const end = await stepper.runUntil(startState, steps[index]!, undefined, cancelled)
    return checkpointHash(end)
  } finally {
    await stepper.release()
  }
}
