/**
 * Runs training-step graphs in ONNX Runtime. Used inside executor workers only (this module
 * loads onnxruntime-node and blocks while a step runs).
 */
import { buildMlpModel, encodeOnnxModel, type Mlp } from '@ocn/prover/onnx'
import * as ort from 'onnxruntime-node'
import type { Hex } from 'viem'
import { ExecutorError } from '../errors.js'
import { encodeSafetensors } from '../formats/safetensors.js'
import { checkpointHash } from '../hashing.js'
import { createSession } from '../session-options.js'
import type { TrainingJobSpec } from '../spec.js'
import { gatherRows, type HostTensor, type NamedTensors, typedView } from '../tensor.js'
import {
  ADAM_STEP_FEED,
  buildTrainingStepModel,
  FEATURES_FEED,
  LOSS_OUTPUT,
  paramNames,
  stateSuffixes,
  TARGETS_FEED,
} from './graph.js'
import {
  DataOrder,
  initialMlp,
  initialState,
  makePlan,
  stepOf,
  type TrainingDataset,
  type TrainingPlan,
  withStep,
} from './plan.js'

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

export class TrainingStepper {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly plan: TrainingPlan,
    readonly mlp: Mlp,
    private readonly data: TrainingDataset,
    private readonly order: DataOrder,
  ) {}

  static async create(
    spec: TrainingJobSpec,
    data: TrainingDataset,
    baseModel?: Uint8Array,
  ): Promise<TrainingStepper> {
    const mlp = initialMlp(spec, baseModel)
    const plan = makePlan(spec, mlp, data)
    const graph = buildTrainingStepModel({ layers: mlp.layers, loss: spec.loss, optimizer: spec.optimizer })
    const refused = (details: string, cause: unknown) =>
      new ExecutorError('EXECUTOR_RUN_FAILED', 'ONNX Runtime refused the training-step graph', {
        details,
        cause,
      })
    const session = await createSession(encodeOnnxModel(graph), spec.profile, refused)
    return new TrainingStepper(session, plan, mlp, data, new DataOrder(plan))
  }

  initialState(): NamedTensors {
    return initialState(this.plan.spec, this.mlp)
  }

  /** One optimizer step; returns the next state and the batch loss. */
  async step(state: NamedTensors): Promise<{ state: NamedTensors; loss: number }> {
    const step = stepOf(state)
    const rows = this.order.rowsOf(step)
    const feeds: Record<string, ort.Tensor> = {
      [FEATURES_FEED]: toOrtTensor(gatherRows(this.data.features, rows)),
      [TARGETS_FEED]: toOrtTensor(gatherRows(this.data.targets, rows)),
    }
    const names = paramNames(this.mlp.layers.length)
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

  /** The inference model with the weights of `state`. */
  exportModel(state: NamedTensors): Uint8Array {
    const layers = this.mlp.layers.map((l, i) => ({
      ...l,
      weight: new Float32Array(state[`layer${i}.weight`]!.data.slice().buffer),
      bias: new Float32Array(state[`layer${i}.bias`]!.data.slice().buffer),
    }))
    const { input, output, softmaxOutput } = this.plan.exportNames
    return encodeOnnxModel(buildMlpModel({ layers, softmaxOutput }, { inputName: input, outputName: output }))
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
