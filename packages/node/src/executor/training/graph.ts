/**
 * Training-step graphs for dense MLPs, built as plain ONNX so onnxruntime-node (which has no
 * training API) runs them like any model: forward pass, loss, hand-derived backward pass
 * and the optimizer update, all in one graph. Weights and optimizer state go in as feeds
 * and come out updated (`next.<name>`); the caller feeds them back for the next step.
 *
 * Definitions (what the gradient test checks against a float64 reference):
 *  - layer l: z_l = a_{l-1} W_l + b_l (W_l is [in, out]), a_l = act(z_l), the last layer linear
 *  - softmax cross-entropy: loss = -(1/B) sum_b log softmax(z)_b[y_b]; dz = (softmax(z) - onehot(y)) / B
 *  - MSE: loss = (1/(B*O)) sum (z - y)^2; dz = 2 (z - y) / (B*O)
 *  - SGD with momentum mu: v' = mu v + g; p' = p - lr v'
 *  - Adam (t = 1-based step): m' = b1 m + (1-b1) g; v' = b2 v + (1-b2) g^2;
 *    p' = p - lr (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps)
 * B is the batch's row count, read from the input's shape, so a short last batch is exact.
 */
import { applyActivation, GraphBuilder, type MlpActivation } from '@ocn/prover/onnx'
import type { LossName, OptimizerSpec } from '../spec.js'

export interface TrainingGraphOptions {
  /** layer sizes and activations (the weights' values are not used; they are feeds) */
  layers: { inFeatures: number; outFeatures: number; activation: MlpActivation }[]
  loss: LossName
  optimizer: OptimizerSpec
  /** also output `grad.<param>` (used by the gradient check) */
  emitGradients?: boolean
}

export const FEATURES_FEED = 'x'
export const TARGETS_FEED = 'y'
export const ADAM_STEP_FEED = 'adam.t'
export const LOSS_OUTPUT = 'loss'

export function paramNames(layerCount: number): string[] {
  const names: string[] = []
  for (let i = 0; i < layerCount; i++) names.push(`layer${i}.weight`, `layer${i}.bias`)
  return names
}

/** Optimizer state tensors per parameter, in feed order. */
export function stateSuffixes(optimizer: OptimizerSpec): string[] {
  return optimizer.type === 'sgd' ? ['velocity'] : ['m', 'v']
}

export function paramShape(layers: TrainingGraphOptions['layers'], name: string): number[] {
  const m = /^layer(\d+)\.(weight|bias)/.exec(name)
  const l = layers[Number(m?.[1])]!
  return m?.[2] === 'weight' ? [l.inFeatures, l.outFeatures] : [l.outFeatures]
}

export function buildTrainingStepModel(options: TrainingGraphOptions) {
  const { layers, loss } = options
  const b = new GraphBuilder('training_step')
  const feeds = declareFeeds(b, options)
  const { zs, as } = forward(b, layers, feeds)
  const out = zs[zs.length - 1]!
  const batch = b.op('Cast', [b.op('Shape', [feeds.x], { start: 0, end: 1 })], { to: 1 })
  const { lossValue, dz } = lossAndGradient(
    b,
    loss,
    out,
    feeds.y,
    batch,
    layers[layers.length - 1]!.outFeatures,
  )
  b.output(lossValue, 'float32', [], LOSS_OUTPUT)
  const grads = backward(b, layers, feeds, zs, as, dz)
  const params = paramNames(layers.length).map((name) => ({ name, dims: paramShape(layers, name) }))
  applyOptimizer(b, options.optimizer, params, feeds, grads, options.emitGradients)
  return b.build({ docString: 'OCN training step' })
}

/** The graph's inputs, in feed order: features, targets, parameters, optimizer state, Adam's step. */
interface StepFeeds {
  x: string
  y: string
  W: string[]
  Bias: string[]
  /** `${param}.${suffix}` -> the state input */
  state: Map<string, string>
  t: string | undefined
}

function declareFeeds(b: GraphBuilder, { layers, loss, optimizer }: TrainingGraphOptions): StepFeeds {
  const first = layers[0]!
  const last = layers[layers.length - 1]!
  const x = b.input(FEATURES_FEED, 'float32', ['batch', first.inFeatures])
  const y =
    loss === 'softmax-cross-entropy'
      ? b.input(TARGETS_FEED, 'int64', ['batch'])
      : b.input(TARGETS_FEED, 'float32', ['batch', last.outFeatures])
  const W: string[] = []
  const Bias: string[] = []
  layers.forEach((l, i) => {
    W.push(b.input(`layer${i}.weight`, 'float32', [l.inFeatures, l.outFeatures]))
    Bias.push(b.input(`layer${i}.bias`, 'float32', [l.outFeatures]))
  })
  const params = paramNames(layers.length).map((name) => ({ name, dims: paramShape(layers, name) }))
  return { x, y, W, Bias, ...declareOptimizerState(b, optimizer, params) }
}

/** A trainable parameter of a step graph: its feed name and shape. */
export interface StepParam {
  name: string
  dims: number[]
}

/** The optimizer state inputs (`${param}.${suffix}`) of each parameter, then Adam's step. */
export function declareOptimizerState(
  b: GraphBuilder,
  optimizer: OptimizerSpec,
  params: StepParam[],
): { state: Map<string, string>; t: string | undefined } {
  const state = new Map<string, string>()
  for (const p of params) {
    for (const s of stateSuffixes(optimizer)) {
      state.set(`${p.name}.${s}`, b.input(`${p.name}.${s}`, 'float32', p.dims))
    }
  }
  const t = optimizer.type === 'adam' ? b.input(ADAM_STEP_FEED, 'float32', []) : undefined
  return { state, t }
}

/** Each layer's pre-activation z and activation a (the last layer's a is its z). */
function forward(
  b: GraphBuilder,
  layers: TrainingGraphOptions['layers'],
  { x, W, Bias }: StepFeeds,
): { zs: string[]; as: string[] } {
  const zs: string[] = []
  const as: string[] = []
  let a = x
  layers.forEach((l, i) => {
    const z = b.op('Gemm', [a, W[i]!, Bias[i]!])
    zs.push(z)
    a = i === layers.length - 1 ? z : applyActivation(b, z, l.activation)
    as.push(a)
  })
  return { zs, as }
}

/** The loss and its gradient with respect to the last layer's output. */
export function lossAndGradient(
  b: GraphBuilder,
  loss: LossName,
  out: string,
  y: string,
  batch: string,
  outFeatures: number,
): { lossValue: string; dz: string } {
  if (loss === 'softmax-cross-entropy') {
    const logp = b.op('LogSoftmax', [out], { axis: -1 })
    const onehot = b.op('OneHot', [y, b.constant([outFeatures], 'int64', []), b.constant([0, 1])], {
      axis: -1,
    })
    const picked = b.op('ReduceSum', [b.op('Mul', [onehot, logp])], { keepdims: 0 })
    const lossValue = b.op('Div', [b.op('Neg', [picked]), b.op('Squeeze', [batch])])
    const dz = b.op('Div', [b.op('Sub', [b.op('Exp', [logp]), onehot]), batch])
    return { lossValue, dz }
  }
  const diff = b.op('Sub', [out, y])
  const count = b.op('Mul', [batch, b.constant([outFeatures])])
  const lossValue = b.op('Div', [
    b.op('ReduceSum', [b.op('Mul', [diff, diff])], { keepdims: 0 }),
    b.op('Squeeze', [count]),
  ])
  const dz = b.op('Div', [b.op('Mul', [diff, b.constant([2])]), count])
  return { lossValue, dz }
}

/** Parameter gradients, last layer first, from the loss gradient dz of the last layer's output. */
function backward(
  b: GraphBuilder,
  layers: TrainingGraphOptions['layers'],
  { x, W }: StepFeeds,
  zs: string[],
  as: string[],
  dzOut: string,
): Map<string, string> {
  const grads = new Map<string, string>()
  const axis0 = b.constant([0], 'int64', [1])
  let dz = dzOut
  for (let i = layers.length - 1; i >= 0; i--) {
    const input = i === 0 ? x : as[i - 1]!
    grads.set(`layer${i}.weight`, b.op('Gemm', [input, dz], { transA: 1 }))
    grads.set(`layer${i}.bias`, b.op('ReduceSum', [dz, axis0], { keepdims: 0 }))
    if (i > 0) {
      const da = b.op('Gemm', [dz, W[i]!], { transB: 1 })
      dz = b.op('Mul', [da, activationDerivative(b, zs[i - 1]!, as[i - 1]!, layers[i - 1]!.activation)])
    }
  }
  return grads
}

/** The optimizer update: each parameter's next value and next state as `next.*` outputs. */
export function applyOptimizer(
  b: GraphBuilder,
  optimizer: OptimizerSpec,
  params: StepParam[],
  { state, t }: { state: Map<string, string>; t: string | undefined },
  grads: Map<string, string>,
  emitGradients = false,
): void {
  // Adam's bias corrections 1 - b1^t and 1 - b2^t, shared by every parameter
  let c1 = ''
  let c2 = ''
  if (optimizer.type === 'adam') {
    const one = b.constant([1])
    c1 = b.op('Sub', [one, b.op('Pow', [b.constant([optimizer.beta1]), t!])])
    c2 = b.op('Sub', [one, b.op('Pow', [b.constant([optimizer.beta2]), t!])])
  }
  for (const { name: p, dims: shape } of params) {
    const g = grads.get(p)!
    if (emitGradients) b.output(g, 'float32', shape, `grad.${p}`)
    if (optimizer.type === 'sgd') {
      const v = b.op('Add', [b.op('Mul', [state.get(`${p}.velocity`)!, b.constant([optimizer.momentum])]), g])
      const next = b.op('Sub', [p, b.op('Mul', [v, b.constant([optimizer.learningRate])])])
      b.output(next, 'float32', shape, `next.${p}`)
      b.output(v, 'float32', shape, `next.${p}.velocity`)
    } else {
      const m = b.op('Add', [
        b.op('Mul', [state.get(`${p}.m`)!, b.constant([optimizer.beta1])]),
        b.op('Mul', [g, b.constant([1 - optimizer.beta1])]),
      ])
      const v = b.op('Add', [
        b.op('Mul', [state.get(`${p}.v`)!, b.constant([optimizer.beta2])]),
        b.op('Mul', [b.op('Mul', [g, g]), b.constant([1 - optimizer.beta2])]),
      ])
      const mhat = b.op('Div', [m, c1])
      const denom = b.op('Add', [b.op('Sqrt', [b.op('Div', [v, c2])]), b.constant([optimizer.epsilon])])
      const next = b.op('Sub', [
        p,
        b.op('Mul', [b.op('Div', [mhat, denom]), b.constant([optimizer.learningRate])]),
      ])
      b.output(next, 'float32', shape, `next.${p}`)
      b.output(m, 'float32', shape, `next.${p}.m`)
      b.output(v, 'float32', shape, `next.${p}.v`)
    }
  }
}

export function activationDerivative(
  b: GraphBuilder,
  z: string,
  a: string,
  activation: MlpActivation,
): string {
  switch (activation) {
    case 'relu':
      return b.op('Cast', [b.op('Greater', [z, b.constant([0])])], { to: 1 })
    case 'tanh':
      return b.op('Sub', [b.constant([1]), b.op('Mul', [a, a])])
    case 'sigmoid':
      return b.op('Mul', [a, b.op('Sub', [b.constant([1]), a])])
    case 'gelu': {
      // d/dz [z Phi(z)] = Phi(z) + z phi(z)
      const Phi = b.op('Mul', [
        b.op('Add', [b.op('Erf', [b.op('Mul', [z, b.constant([Math.SQRT1_2])])]), b.constant([1])]),
        b.constant([0.5]),
      ])
      const phi = b.op('Mul', [
        b.op('Exp', [b.op('Mul', [b.op('Mul', [z, z]), b.constant([-0.5])])]),
        b.constant([1 / Math.sqrt(2 * Math.PI)]),
      ])
      return b.op('Add', [Phi, b.op('Mul', [z, phi])])
    }
    case 'none':
      return b.constant([1])
  }
}
