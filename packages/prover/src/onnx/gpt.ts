/**
 * A small GPT-style decoder as an ONNX graph, in the layout most decoder exports use
 * (Hugging Face Optimum's "with past"): inputs `input_ids` [batch, seq] int64,
 * `attention_mask` [batch, past + seq] int64, `position_ids` [batch, seq] int64 and
 * `past_key_values.<i>.key/value` [batch, heads, past, headDim]; outputs `logits`
 * [batch, seq, vocab] and `present.<i>.key/value` [batch, heads, past + seq, headDim].
 *
 * Weights come from a seeded generator, so a seed names one model bit for bit: tests and
 * benchmarks build the same fixture without shipping a file. One graph serves the prefill
 * (past 0, seq N) and the cached step (past N, seq 1), as a real export does.
 */
import { float, GraphBuilder } from './builder.js'
import { OnnxError } from './errors.js'
import { applyActivation } from './mlp.js'
import type { OnnxModel } from './model.js'

export interface GptConfig {
  vocab: number
  /** model width; a multiple of heads */
  dModel: number
  heads: number
  layers: number
  /** size of the learned position table: prompt plus generated tokens must fit */
  maxPositions: number
  /** MLP width, default 4 × dModel */
  dFF?: number
  /** seeds every weight */
  seed: number
}

/** The names of the KV-cache inputs and outputs of layer i. */
export function gptCacheNames(i: number): {
  pastKey: string
  pastValue: string
  presentKey: string
  presentValue: string
} {
  return {
    pastKey: `past_key_values.${i}.key`,
    pastValue: `past_key_values.${i}.value`,
    presentKey: `present.${i}.key`,
    presentValue: `present.${i}.value`,
  }
}

/** mulberry32: a small seeded generator, enough for reproducible fixture weights. */
function seededUniform(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Weights {
  private readonly next: () => number
  constructor(
    private readonly b: GraphBuilder,
    seed: number,
  ) {
    this.next = seededUniform(seed)
  }

  /** uniform in ±scale */
  uniform(name: string, dims: number[], scale: number): string {
    const n = dims.reduce((a, c) => a * c, 1)
    const v = new Float32Array(n)
    for (let i = 0; i < n; i++) v[i] = (this.next() * 2 - 1) * scale
    return this.b.initializer(name, 'float32', dims, v)
  }

  filled(name: string, dims: number[], value: number): string {
    const n = dims.reduce((a, c) => a * c, 1)
    return this.b.initializer(name, 'float32', dims, new Float32Array(n).fill(value))
  }

  /** y = x W + b with W [inF, outF] */
  dense(x: string, name: string, inF: number, outF: number): string {
    const w = this.uniform(`${name}.weight`, [inF, outF], 1 / Math.sqrt(inF))
    const bias = this.uniform(`${name}.bias`, [outF], 0.02)
    return this.b.op('Add', [this.b.op('MatMul', [x, w]), bias])
  }

  layerNorm(x: string, name: string, d: number): string {
    const gamma = this.filled(`${name}.weight`, [d], 1)
    const beta = this.filled(`${name}.bias`, [d], 0)
    return this.b.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: float(1e-5) })
  }
}

interface Shared {
  /** [B, 1, S, T] bool: key j is visible to query i (causal and not masked out) */
  visible: string
  /** int64 [4]: [0, 0, heads, headDim] for the split into heads */
  splitShape: string
  /** int64 [3]: [0, 0, dModel] for the merge back */
  mergeShape: string
}

function checkConfig(c: GptConfig): void {
  const positive = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 1)
      throw new OnnxError('ONNX_GRAPH_SHAPE', `GPT config: ${what} must be a positive integer`)
  }
  positive(c.vocab, 'vocab')
  positive(c.dModel, 'dModel')
  positive(c.heads, 'heads')
  positive(c.layers, 'layers')
  positive(c.maxPositions, 'maxPositions')
  if (c.dModel % c.heads !== 0)
    throw new OnnxError('ONNX_GRAPH_SHAPE', 'GPT config: dModel must be a multiple of heads')
}

/**
 * The visibility mask every layer shares: query i of this call sits at absolute position
 * past + i and sees keys 0..past + i whose attention_mask entry is 1.
 */
function visibility(b: GraphBuilder, firstPastKey: string, inputIds: string, attentionMask: string): string {
  const scalar = (v: string) => b.op('Squeeze', [v, b.constant([0], 'int64', [1])])
  const past = scalar(b.op('Shape', [firstPastKey], { start: 2, end: 3 }))
  const seq = scalar(b.op('Shape', [inputIds], { start: 1, end: 2 }))
  const one = b.constant([1], 'int64', [])
  const zero = b.constant([0], 'int64', [])
  const end = b.op('Add', [past, seq])
  const queries = b.op('Unsqueeze', [b.op('Range', [past, end, one]), b.constant([1], 'int64', [1])])
  const keys = b.op('Unsqueeze', [b.op('Range', [zero, end, one]), b.constant([0], 'int64', [1])])
  const causal = b.op('LessOrEqual', [keys, queries])
  const mask = b.op('Unsqueeze', [b.op('Cast', [attentionMask], { to: 9 }), b.constant([1, 2], 'int64', [2])])
  return b.op('And', [causal, mask])
}

function attention(b: GraphBuilder, w: Weights, c: GptConfig, shared: Shared, x: string, i: number): string {
  const names = gptCacheNames(i)
  const d = c.dModel
  const headDim = d / c.heads
  const heads = (v: string) =>
    b.op('Transpose', [b.op('Reshape', [v, shared.splitShape])], { perm: [0, 2, 1, 3] })
  const q = heads(w.dense(x, `h.${i}.attn.q`, d, d))
  const k = b.op(
    'Concat',
    [names.pastKey, heads(w.dense(x, `h.${i}.attn.k`, d, d))],
    { axis: 2 },
    { outputs: [names.presentKey] },
  )
  const v = b.op(
    'Concat',
    [names.pastValue, heads(w.dense(x, `h.${i}.attn.v`, d, d))],
    { axis: 2 },
    { outputs: [names.presentValue] },
  )
  const scores = b.op('Mul', [
    b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]),
    b.constant([1 / Math.sqrt(headDim)]),
  ])
  const masked = b.op('Where', [shared.visible, scores, b.constant([-1e9])])
  const probs = b.op('Softmax', [masked], { axis: -1 })
  const merged = b.op('Reshape', [
    b.op('Transpose', [b.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }),
    shared.mergeShape,
  ])
  return w.dense(merged, `h.${i}.attn.out`, d, d)
}

/** The decoder as an ONNX model (opset 17), weights drawn from config.seed. */
export function buildGptModel(config: GptConfig): OnnxModel {
  checkConfig(config)
  const c = config
  const d = c.dModel
  const headDim = d / c.heads
  const b = new GraphBuilder('gpt')
  const w = new Weights(b, c.seed)
  const inputIds = b.input('input_ids', 'int64', ['batch', 'sequence'])
  const attentionMask = b.input('attention_mask', 'int64', ['batch', 'total_sequence'])
  const positionIds = b.input('position_ids', 'int64', ['batch', 'sequence'])
  for (let i = 0; i < c.layers; i++) {
    const n = gptCacheNames(i)
    b.input(n.pastKey, 'float32', ['batch', c.heads, 'past_sequence', headDim])
    b.input(n.pastValue, 'float32', ['batch', c.heads, 'past_sequence', headDim])
  }
  const tokens = b.op('Gather', [w.uniform('wte', [c.vocab, d], 1), inputIds])
  const positions = b.op('Gather', [w.uniform('wpe', [c.maxPositions, d], 0.5), positionIds])
  let h = b.op('Add', [tokens, positions])
  const shared: Shared = {
    visible: visibility(b, gptCacheNames(0).pastKey, inputIds, attentionMask),
    splitShape: b.constant([0, 0, c.heads, headDim], 'int64', [4]),
    mergeShape: b.constant([0, 0, d], 'int64', [3]),
  }
  const dFF = c.dFF ?? 4 * d
  for (let i = 0; i < c.layers; i++) {
    h = b.op('Add', [h, attention(b, w, c, shared, w.layerNorm(h, `h.${i}.ln_1`, d), i)])
    const up = applyActivation(b, w.dense(w.layerNorm(h, `h.${i}.ln_2`, d), `h.${i}.mlp.up`, d, dFF), 'gelu')
    h = b.op('Add', [h, w.dense(up, `h.${i}.mlp.down`, dFF, d)])
  }
  const head = w.uniform('lm_head', [d, c.vocab], 2 / Math.sqrt(d))
  const logits = b.op('MatMul', [w.layerNorm(h, 'ln_f', d), head])
  b.output(logits, 'float32', ['batch', 'sequence', c.vocab], 'logits')
  for (let i = 0; i < c.layers; i++) {
    const n = gptCacheNames(i)
    b.output(n.presentKey, 'float32', ['batch', c.heads, 'total_sequence', headDim])
    b.output(n.presentValue, 'float32', ['batch', c.heads, 'total_sequence', headDim])
  }
  return b.build({ producerName: 'ocn-gpt-fixture' })
}
