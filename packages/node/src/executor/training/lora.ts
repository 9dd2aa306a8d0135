/**
 * LoRA fine-tuning of a dense ONNX MLP: rank-r adapters on chosen layer weights, trained with
 * a hand-derived step graph like graph.ts's; the base model stays frozen (its weights are
 * constants of the step graph) and only the adapters and their optimizer state are checkpointed.
 *
 * Definitions (what the gradient test checks against a float64 reference), weights [in, out]:
 *  - an adapted layer: z = a W + b + s (a A) B with s = alpha / rank, A [in, r], B [r, out]
 *  - backward, from dz: g = s dz; dB = (a A)^T g; dA = a^T (g B^T);
 *    da = dz W^T + (g B^T) A^T
 *  - initial adapters: B = 0 (so training starts from the base model's outputs) and A uniform
 *    in [-1/sqrt(in), 1/sqrt(in)], drawn row-major from
 *    DeterministicRandom.derive('ocn/training/lora-init/v1', utf8(seed), layer) as fround((2u - 1) r)
 *  - the job's result is the adapters file: safetensors with `<weight>.lora_A` [in, r] and
 *    `<weight>.lora_B` [r, out] per target and metadata format, rank and alpha; `mergeLora`
 *    folds it into the base model (W' = W + s A B in float64, rounded once to float32)
 */
import {
  decodeOnnxModel,
  encodeOnnxModel,
  GraphBuilder,
  type Mlp,
  type OnnxModel,
  type OnnxTensor,
  tensorFloat32,
} from '@ocn/prover/onnx'
import { DeterministicRandom } from '@ocn/prover/replay'
import { ExecutorError } from '../errors.js'
import { decodeSafetensors, encodeSafetensors } from '../formats/safetensors.js'
import type { LoraSpec, LossName, OptimizerSpec } from '../spec.js'
import type { NamedTensors } from '../tensor.js'
import {
  activationDerivative,
  applyOptimizer,
  declareOptimizerState,
  FEATURES_FEED,
  LOSS_OUTPUT,
  lossAndGradient,
  type StepParam,
  TARGETS_FEED,
} from './graph.js'
import { f32 } from './plan.js'

export const LORA_FORMAT = 'ocn-lora-v1'

/** One adapted layer of the base MLP. */
export interface LoraTarget {
  /** index of the layer in the MLP (extractMlp's order) */
  layer: number
  /** the weight initializer's name in the base model */
  weight: string
  inFeatures: number
  outFeatures: number
}

export const adapterNames = (weight: string) => ({ a: `${weight}.lora_A`, b: `${weight}.lora_B` })

/** The weights of a model's dense layers (Gemm, or MatMul by an initializer), in node order. */
export function denseWeights(model: OnnxModel): { name: string; transB: boolean }[] {
  const inits = new Set(model.graph.initializers.map((t) => t.name))
  const out: { name: string; transB: boolean }[] = []
  for (const n of model.graph.nodes) {
    const w = n.inputs[1]
    if ((n.opType !== 'Gemm' && n.opType !== 'MatMul') || w === undefined || !inits.has(w)) continue
    const t = n.attributes.find((a) => a.name === 'transB')
    out.push({ name: w, transB: t?.type === 'int' && t.value === 1n })
  }
  return out
}

/** The spec's targets as layers of the base MLP; refuses names that are not a dense layer's weight. */
export function loraTargets(spec: LoraSpec, model: OnnxModel, mlp: Mlp): LoraTarget[] {
  const dense = denseWeights(model)
  if (dense.length !== mlp.layers.length) {
    throw new ExecutorError('EXECUTOR_MODEL_INVALID', 'the base model has dense nodes off its layer chain')
  }
  return spec.targets
    .map((weight) => {
      const layer = dense.findIndex((d) => d.name === weight)
      if (layer < 0) {
        throw new ExecutorError(
          'EXECUTOR_SPEC_INVALID',
          `spec.model.lora.targets: ${weight} is not the weight of a Gemm/MatMul layer of the base model`,
          { details: `its dense weights are [${dense.map((d) => d.name).join(', ')}]` },
        )
      }
      const l = mlp.layers[layer]!
      return { layer, weight, inFeatures: l.inFeatures, outFeatures: l.outFeatures }
    })
    .sort((x, y) => x.layer - y.layer)
}

/** The adapters as step-graph parameters, in feed order: A then B of each target by layer. */
export function loraParams(targets: LoraTarget[], rank: number): StepParam[] {
  return targets.flatMap((t) => {
    const n = adapterNames(t.weight)
    return [
      { name: n.a, dims: [t.inFeatures, rank] },
      { name: n.b, dims: [rank, t.outFeatures] },
    ]
  })
}

export function initialAdapters(seedText: string, targets: LoraTarget[], rank: number): NamedTensors {
  const seed = new TextEncoder().encode(seedText)
  const params: NamedTensors = {}
  for (const t of targets) {
    const rng = DeterministicRandom.derive('ocn/training/lora-init/v1', seed, t.layer)
    const r = 1 / Math.sqrt(t.inFeatures)
    const a = new Float32Array(t.inFeatures * rank)
    for (let i = 0; i < a.length; i++) a[i] = Math.fround((2 * rng.float64() - 1) * r)
    const n = adapterNames(t.weight)
    params[n.a] = f32([t.inFeatures, rank], a)
    params[n.b] = f32([rank, t.outFeatures], new Float32Array(rank * t.outFeatures))
  }
  return params
}

export interface LoraStepOptions {
  /** the frozen base network */
  mlp: Mlp
  targets: LoraTarget[]
  lora: LoraSpec
  loss: LossName
  optimizer: OptimizerSpec
  /** also output `grad.<param>` (used by the gradient check) */
  emitGradients?: boolean
}

/** The training-step graph: feeds x, y, the adapters, their optimizer state (and adam.t). */
export function buildLoraStepModel(o: LoraStepOptions) {
  const { mlp, lora } = o
  const b = new GraphBuilder('lora_step')
  const first = mlp.layers[0]!
  const last = mlp.layers[mlp.layers.length - 1]!
  const x = b.input(FEATURES_FEED, 'float32', ['batch', first.inFeatures])
  const y =
    o.loss === 'softmax-cross-entropy'
      ? b.input(TARGETS_FEED, 'int64', ['batch'])
      : b.input(TARGETS_FEED, 'float32', ['batch', last.outFeatures])
  const params = loraParams(o.targets, lora.rank)
  for (const p of params) b.input(p.name, 'float32', p.dims)
  const optimizerFeeds = declareOptimizerState(b, o.optimizer, params)
  const scale = b.constant([lora.alpha / lora.rank])
  const adapted = new Map(o.targets.map((t) => [t.layer, adapterNames(t.weight)]))
  // forward: each layer's input a, its down-projection u = a A (adapted layers), z and act(z)
  const ins: string[] = []
  const us = new Map<number, string>()
  const zs: string[] = []
  const acts: string[] = []
  let a = x
  mlp.layers.forEach((l, i) => {
    ins.push(a)
    const w = b.initializer(`frozen.layer${i}.weight`, 'float32', [l.inFeatures, l.outFeatures], l.weight)
    const bias = b.initializer(`frozen.layer${i}.bias`, 'float32', [l.outFeatures], l.bias)
    let z = b.op('Gemm', [a, w, bias])
    const n = adapted.get(i)
    if (n) {
      const u = b.op('MatMul', [a, n.a])
      us.set(i, u)
      z = b.op('Add', [z, b.op('Mul', [b.op('MatMul', [u, n.b]), scale])])
    }
    zs.push(z)
    a = i === mlp.layers.length - 1 ? z : applyActivationOf(b, z, l.activation)
    acts.push(a)
  })
  const batch = b.op('Cast', [b.op('Shape', [x], { start: 0, end: 1 })], { to: 1 })
  const { lossValue, dz: dzOut } = lossAndGradient(b, o.loss, zs[zs.length - 1]!, y, batch, last.outFeatures)
  b.output(lossValue, 'float32', [], LOSS_OUTPUT)
  const grads = new Map<string, string>()
  let dz = dzOut
  for (let i = mlp.layers.length - 1; i >= 0; i--) {
    const n = adapted.get(i)
    let gB: string | undefined
    if (n) {
      const g = b.op('Mul', [dz, scale])
      grads.set(n.b, b.op('Gemm', [us.get(i)!, g], { transA: 1 }))
      gB = b.op('Gemm', [g, n.b], { transB: 1 })
      grads.set(n.a, b.op('Gemm', [ins[i]!, gB], { transA: 1 }))
    }
    if (i === 0) break
    let da = b.op('Gemm', [dz, `frozen.layer${i}.weight`], { transB: 1 })
    if (n && gB) da = b.op('Add', [da, b.op('Gemm', [gB, n.a], { transB: 1 })])
    const prev = mlp.layers[i - 1]!
    dz = b.op('Mul', [da, activationDerivative(b, zs[i - 1]!, acts[i - 1]!, prev.activation)])
  }
  applyOptimizer(b, o.optimizer, params, optimizerFeeds, grads, o.emitGradients)
  return b.build({ docString: 'OCN LoRA training step' })
}

/** The activation of a base layer, spelled in ops every opset 17 runtime has. */
function applyActivationOf(b: GraphBuilder, z: string, activation: Mlp['layers'][number]['activation']) {
  switch (activation) {
    case 'relu':
      return b.op('Relu', [z])
    case 'tanh':
      return b.op('Tanh', [z])
    case 'sigmoid':
      return b.op('Sigmoid', [z])
    case 'gelu': {
      const erf = b.op('Erf', [b.op('Mul', [z, b.constant([Math.SQRT1_2])])])
      return b.op('Mul', [z, b.op('Mul', [b.op('Add', [erf, b.constant([1])]), b.constant([0.5])])])
    }
    case 'none':
      return z
  }
}

/** The job's result: the adapters of a state as a self-describing safetensors file. */
export function encodeAdapters(state: NamedTensors, targets: LoraTarget[], lora: LoraSpec): Uint8Array {
  const tensors: NamedTensors = {}
  for (const t of targets) {
    const n = adapterNames(t.weight)
    tensors[n.a] = state[n.a]!
    tensors[n.b] = state[n.b]!
  }
  return encodeSafetensors(tensors, {
    format: LORA_FORMAT,
    rank: String(lora.rank),
    alpha: String(lora.alpha),
  })
}

const mergeError = (message: string, details?: string) =>
  new ExecutorError('EXECUTOR_INPUT_MISMATCH', message, details === undefined ? {} : { details })

/**
 * Folds an adapters file into its base model: each adapted weight becomes W + (alpha/rank) A B
 * (computed in float64, rounded once), stored in the weight's own layout (a Gemm with
 * transB=1 keeps [out, in]). Everything else of the model is kept as it is.
 */
export function mergeLora(
  baseModel: Uint8Array,
  adapters: Uint8Array,
): { model: Uint8Array; weights: string[] } {
  const model = decodeOnnxModel(baseModel)
  const file = decodeSafetensors(adapters)
  if (file.metadata.format !== LORA_FORMAT) {
    throw mergeError(
      `the adapters file is not ${LORA_FORMAT}`,
      `its format is ${file.metadata.format ?? 'unset'}`,
    )
  }
  const rank = Number(file.metadata.rank)
  const alpha = Number(file.metadata.alpha)
  if (!Number.isInteger(rank) || rank < 1 || !(alpha > 0))
    throw mergeError('the adapters file has no valid rank and alpha')
  const scale = alpha / rank
  const dense = new Map(denseWeights(model).map((d) => [d.name, d.transB]))
  const weights = Object.keys(file.tensors)
    .filter((n) => n.endsWith('.lora_A'))
    .map((n) => n.slice(0, -'.lora_A'.length))
  if (weights.length === 0 || weights.length * 2 !== Object.keys(file.tensors).length) {
    throw mergeError('the adapters file must hold <weight>.lora_A and <weight>.lora_B pairs only')
  }
  const merged = new Map<string, OnnxTensor>()
  for (const weight of weights) {
    const transB = dense.get(weight)
    const w = model.graph.initializers.find((t) => t.name === weight)
    if (transB === undefined || !w || w.dataType !== 'float32' || w.dims.length !== 2) {
      throw mergeError(
        `the base model has no float32 Gemm/MatMul weight named ${weight}`,
        'merge into the model the adapters were trained on',
      )
    }
    const n = adapterNames(weight)
    const A = file.tensors[n.a]!
    const B = file.tensors[n.b]
    const [inF, outF] = transB ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!]
    if (
      !B ||
      A.dtype !== 'float32' ||
      B.dtype !== 'float32' ||
      A.dims.join() !== `${inF},${rank}` ||
      B.dims.join() !== `${rank},${outF}`
    ) {
      throw mergeError(`adapters of ${weight} must be float32 A [${inF}, ${rank}] and B [${rank}, ${outF}]`)
    }
    const a = new Float32Array(A.data.slice().buffer)
    const bm = new Float32Array(B.data.slice().buffer)
    const values = tensorFloat32(w)
    const out = new Float32Array(values.length)
    for (let i = 0; i < inF; i++) {
      for (let o = 0; o < outF; o++) {
        let delta = 0
        for (let k = 0; k < rank; k++) delta += a[i * rank + k]! * bm[k * outF + o]!
        const at = transB ? o * inF + i : i * outF + o
        out[at] = values[at]! + scale * delta
      }
    }
    merged.set(weight, { ...w, data: new Uint8Array(out.buffer) })
  }
  const initializers = model.graph.initializers.map((t) => merged.get(t.name) ?? t)
  return {
    model: encodeOnnxModel({ ...model, graph: { ...model.graph, initializers } }),
    weights: [...merged.keys()],
  }
}
