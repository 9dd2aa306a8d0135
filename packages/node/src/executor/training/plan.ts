/**
 * Everything about a training job that both the provider and a verifier derive from the
 * spec and the dataset alone: the initial weights, the data order, which steps are
 * checkpoints. Pure functions (no ONNX Runtime), so they are easy to reproduce.
 *
 * - steps per epoch = ceil(N / batchSize); the last batch of an epoch is short when
 *   batchSize does not divide N (its loss and gradients are means over its own rows)
 * - data order: epoch e visits rows in DeterministicRandom.derive('ocn/training/order/v1',
 *   utf8(seed), e).permutation(N); step s uses rows [j*B, min((j+1)*B, N)) of epoch
 *   floor(s / stepsPerEpoch)'s permutation, j = s mod stepsPerEpoch
 * - initial weights (architecture jobs): for layer l, uniform in [-r, r] with r =
 *   sqrt(6 / in) for relu/gelu (He) and sqrt(6 / (in + out)) for tanh (Glorot), drawn
 *   row-major from DeterministicRandom.derive('ocn/training/init/v1', utf8(seed), l) as
 *   fround((2u - 1) r); biases zero. Fine-tuning starts from the base model's weights.
 * - checkpoints at steps 0, k, 2k, ... and at the final step; checkpoint 0 is the initial
 *   state. Segment i (i >= 1) is the steps from checkpoint i-1 to checkpoint i.
 */
import { decodeOnnxModel, extractMlp, type Mlp } from '@ocn/prover/onnx'
import { DeterministicRandom } from '@ocn/prover/replay'
import { ExecutorError } from '../errors.js'
import type { Activation, TrainingJobSpec } from '../spec.js'
import type { HostTensor, NamedTensors } from '../tensor.js'
import { stateSuffixes } from './graph.js'

export const STEP_TENSOR = 'step'

export interface TrainingDataset {
  features: HostTensor
  targets: HostTensor
}

export interface TrainingPlan {
  spec: TrainingJobSpec
  rows: number
  stepsPerEpoch: number
  totalSteps: number
  /** the step count at each checkpoint, starting with 0 */
  checkpointSteps: number[]
  /** input/output names and final softmax of the exported model */
  exportNames: { input: string; output: string; softmaxOutput: boolean }
}

export function datasetOf(spec: TrainingJobSpec, tensors: NamedTensors): TrainingDataset {
  const fname = spec.data?.features ?? 'x'
  const tname = spec.data?.targets ?? 'y'
  const features = tensors[fname]
  const targets = tensors[tname]
  if (!features || !targets) {
    throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', `the dataset needs tensors ${fname} and ${tname}`, {
      details: `it has [${Object.keys(tensors).join(', ')}]`,
    })
  }
  return { features, targets }
}

export function initialMlp(
  spec: TrainingJobSpec,
  baseModel: Uint8Array | undefined,
): Mlp & { input: string; output: string } {
  if ('baseModel' in spec.model) {
    if (!baseModel) throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'a fine-tuning job needs its base model')
    try {
      const mlp = extractMlp(decodeOnnxModel(baseModel))
      return { ...mlp, input: mlp.names.input, output: mlp.names.output }
    } catch (cause) {
      throw new ExecutorError(
        'EXECUTOR_MODEL_INVALID',
        'the base model is not a dense MLP this executor can fine-tune',
        {
          details: cause instanceof Error ? cause.message : String(cause),
          cause,
        },
      )
    }
  }
  const a = spec.model.architecture
  const layers = generatedLayers(spec.seed, [a.inputFeatures, ...a.hiddenLayers, a.outputs], a.activation)
  return { layers, softmaxOutput: false, input: 'features', output: 'output' }
}

/** A generated network's layers with their initial weights (the rule in this file's header). */
export function generatedLayers(seedText: string, sizes: number[], activation: Activation): Mlp['layers'] {
  const a = { activation }
  const seed = new TextEncoder().encode(seedText)
  return sizes.slice(1).map((out, l) => {
    const inF = sizes[l]!
    const isLast = l === sizes.length - 2
    const r = a.activation === 'tanh' ? Math.sqrt(6 / (inF + out)) : Math.sqrt(6 / inF)
    const rng = DeterministicRandom.derive('ocn/training/init/v1', seed, l)
    const weight = new Float32Array(inF * out)
    for (let i = 0; i < weight.length; i++) weight[i] = Math.fround((2 * rng.float64() - 1) * r)
    return {
      inFeatures: inF,
      outFeatures: out,
      weight,
      bias: new Float32Array(out),
      activation: isLast ? ('none' as const) : a.activation,
    }
  })
}

export function makePlan(
  spec: TrainingJobSpec,
  mlp: Mlp & { input: string; output: string },
  data: TrainingDataset,
): TrainingPlan {
  const { features, targets } = data
  const first = mlp.layers[0]!
  const last = mlp.layers[mlp.layers.length - 1]!
  const bad = (what: string) => new ExecutorError('EXECUTOR_INPUT_MISMATCH', `training data: ${what}`)
  if (features.dtype !== 'float32' || features.dims.length !== 2 || features.dims[1] !== first.inFeatures) {
    throw bad(
      `features must be float32 [N, ${first.inFeatures}], got ${features.dtype} [${features.dims.join(', ')}]`,
    )
  }
  const rows = features.dims[0]!
  if (rows === 0) throw bad('the dataset is empty')
  checkTargets(spec, rows, last.outFeatures, targets)
  const stepsPerEpoch = Math.ceil(rows / spec.batchSize)
  const totalSteps = stepsPerEpoch * spec.epochs
  const checkpointSteps = checkpointStepsFor(spec, rows)
  return {
    spec,
    rows,
    stepsPerEpoch,
    totalSteps,
    checkpointSteps,
    exportNames: { input: mlp.input, output: mlp.output, softmaxOutput: mlp.softmaxOutput },
  }
}

/** The targets must suit the loss: class indices below `outputs`, or float rows of `outputs` values. */
export function checkTargets(
  spec: Pick<TrainingJobSpec, 'loss'>,
  rows: number,
  outputs: number,
  targets: HostTensor,
): void {
  const bad = (what: string) => new ExecutorError('EXECUTOR_INPUT_MISMATCH', `training data: ${what}`)
  const last = { outFeatures: outputs }
  if (spec.loss === 'softmax-cross-entropy') {
    if (targets.dtype !== 'int64' || targets.dims.length !== 1 || targets.dims[0] !== rows) {
      throw bad(
        `targets must be int64 [${rows}] class indices, got ${targets.dtype} [${targets.dims.join(', ')}]`,
      )
    }
    const labels = new BigInt64Array(targets.data.slice().buffer)
    for (const l of labels) {
      if (l < 0n || l >= BigInt(last.outFeatures))
        throw bad(`label ${l} is outside 0..${last.outFeatures - 1}`)
    }
  } else if (
    targets.dtype !== 'float32' ||
    targets.dims.length !== 2 ||
    targets.dims[0] !== rows ||
    targets.dims[1] !== last.outFeatures
  ) {
    throw bad(
      `targets must be float32 [${rows}, ${last.outFeatures}], got ${targets.dtype} [${targets.dims.join(', ')}]`,
    )
  }
}

/** The step count at each checkpoint of a job over `rows` rows: 0, k, 2k, ... and the final step. */
export function checkpointStepsFor(
  spec: Pick<TrainingJobSpec, 'batchSize' | 'epochs' | 'checkpointInterval'>,
  rows: number,
): number[] {
  const totalSteps = Math.ceil(rows / spec.batchSize) * spec.epochs
  const steps: number[] = []
  for (let s = 0; s < totalSteps; s += spec.checkpointInterval) steps.push(s)
  steps.push(totalSteps)
  return steps
}

/**
 * The offer fields of a training job over `rows` rows. The chain fixes a job's leaf count at
 * award from its offer (JobMarket `_leafCountOf`), one leaf per checkpoint: for training
 * ceil(sampleCount / microBatchSize) + 1. So a training offer carries the optimizer step count
 * in `sampleCount` and the checkpoint interval (at most the step count, which the offer checks
 * require and which leaves the count unchanged) in `microBatchSize`.
 */
export function trainingOfferCounts(
  spec: Pick<TrainingJobSpec, 'batchSize' | 'epochs' | 'checkpointInterval'>,
  rows: number,
): { sampleCount: number; microBatchSize: number } {
  const steps = Math.ceil(rows / spec.batchSize) * spec.epochs
  return { sampleCount: steps, microBatchSize: Math.max(1, Math.min(spec.checkpointInterval, steps)) }
}

/** Row indices of step s. */
export class DataOrder {
  private epoch = -1
  private perm: Uint32Array = new Uint32Array(0)
  private readonly seed: Uint8Array

  constructor(private readonly plan: TrainingPlan) {
    this.seed = new TextEncoder().encode(plan.spec.seed)
  }

  rowsOf(step: number): Uint32Array {
    const { stepsPerEpoch, rows, spec } = this.plan
    const epoch = Math.floor(step / stepsPerEpoch)
    if (epoch !== this.epoch) {
      this.perm = DeterministicRandom.derive('ocn/training/order/v1', this.seed, epoch).permutation(rows)
      this.epoch = epoch
    }
    const j = step % stepsPerEpoch
    return this.perm.subarray(j * spec.batchSize, Math.min((j + 1) * spec.batchSize, rows))
  }
}

/** The full training state at step 0: weights, zeroed optimizer state, step counter. */
export function initialState(spec: TrainingJobSpec, mlp: Mlp): NamedTensors {
  return initialStateOf(spec, mlpParams(mlp))
}

/** An MLP's weights and biases as the parameters of its training-step graph, in feed order. */
export function mlpParams(mlp: Mlp): NamedTensors {
  const params: NamedTensors = {}
  mlp.layers.forEach((l, i) => {
    params[`layer${i}.weight`] = f32([l.inFeatures, l.outFeatures], l.weight)
    params[`layer${i}.bias`] = f32([l.outFeatures], l.bias)
  })
  return params
}

/** The state at step 0 from the initial parameters: zeroed optimizer state and step counter. */
export function initialStateOf(spec: TrainingJobSpec, params: NamedTensors): NamedTensors {
  const state: NamedTensors = { ...params }
  for (const p of Object.keys(params)) {
    for (const s of stateSuffixes(spec.optimizer)) {
      const shape = state[p]!.dims
      state[`${p}.${s}`] = {
        dtype: 'float32',
        dims: [...shape],
        data: new Uint8Array(state[p]!.data.byteLength),
      }
    }
  }
  state[STEP_TENSOR] = { dtype: 'int64', dims: [], data: new Uint8Array(8) }
  return state
}

export function stepOf(state: NamedTensors): number {
  const t = state[STEP_TENSOR]
  if (t?.dtype !== 'int64' || t.data.byteLength !== 8) {
    throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', 'checkpoint state has no int64 step counter')
  }
  return Number(new DataView(t.data.buffer, t.data.byteOffset, 8).getBigInt64(0, true))
}

export function withStep(state: NamedTensors, step: number): NamedTensors {
  const data = new Uint8Array(8)
  new DataView(data.buffer).setBigInt64(0, BigInt(step), true)
  return { ...state, [STEP_TENSOR]: { dtype: 'int64', dims: [], data } }
}

export function f32(dims: number[], values: Float32Array): HostTensor {
  const copy = values.slice()
  return { dtype: 'float32', dims, data: new Uint8Array(copy.buffer) }
}
