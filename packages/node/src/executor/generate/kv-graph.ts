/**
 * The decoding graph: the decoder with each step's new keys and values as outputs of their
 * own, so a decoding loop fetches those (a few rows per step) instead of the whole `present`
 * cache and keeps the cache itself in buffers it reuses (kv-cache.ts).
 *
 * Why: onnxruntime-node copies every fetched output into a fresh JavaScript buffer. In the
 * export layout each step's `present.<i>.key/value` is the whole cache so far, so a plain loop
 * allocates and copies the cache once per token (150 MB over a 256-token generation on OCN's
 * small fixture, far more on a real model), and the garbage collector frees it again on other
 * threads. Fetching the new rows only leaves one copy per step into a reused buffer.
 *
 * How: in the export layout `present.<i>.key` is `Concat(past_key_values.<i>.key, new, axis 2)`.
 * The rewrite finds that Concat for every cache output and adds its second input as a graph
 * output; nothing else changes. A model built otherwise (a fused attention op, another axis)
 * gets no rewrite and decodes as before. The worker also compares the two sessions on a probe
 * (decode.ts kvModelAgrees) before it trusts the rewrite, logits and cache bit for bit.
 */
import type { OnnxModel, OnnxNode } from '@ocn/prover/onnx'
import type { DecoderLayout } from './params.js'

/** Per cache tensor: the past input it feeds and the output holding a step's new rows. */
export interface KvStream {
  past: string
  present: string
  fresh: string
}

export interface KvStepModel {
  model: OnnxModel
  streams: KvStream[]
}

const axisOf = (n: OnnxNode): bigint | undefined => {
  const a = n.attributes.find((x) => x.name === 'axis')
  return a?.type === 'int' ? a.value : undefined
}

/** The Concat making `present` from `past` and a step's new rows, or undefined. */
function freshRows(nodes: readonly OnnxNode[], past: string, present: string): string | undefined {
  const n = nodes.find((x) => x.outputs.includes(present))
  if (n?.opType !== 'Concat' || (n.domain !== '' && n.domain !== 'ai.onnx')) return undefined
  // [batch, heads, sequence, headDim]: the sequence axis is 2, or -2 counted from the end
  const axis = axisOf(n)
  if (axis !== 2n && axis !== -2n) return undefined
  if (n.inputs.length !== 2 || n.inputs[0] !== past || !n.inputs[1]) return undefined
  return n.inputs[1]
}

/** The decoder with every step's new cache rows as outputs, or undefined when a cache output is not such a Concat. */
export function kvStepModel(model: OnnxModel, layout: DecoderLayout): KvStepModel | undefined {
  const g = model.graph
  const streams: KvStream[] = []
  for (const l of layout.layers) {
    for (const [past, present] of [
      [l.pastKey, l.presentKey],
      [l.pastValue, l.presentValue],
    ] as const) {
      const fresh = freshRows(g.nodes, past, present)
      if (fresh === undefined || g.inputs.some((i) => i.name === fresh)) return undefined
      streams.push({ past, present, fresh })
    }
  }
  const known = new Set(g.outputs.map((o) => o.name))
  const added = streams
    .filter((s) => !known.has(s.fresh))
    .map((s) => ({ name: s.fresh, elemType: 'float32' as const, shape: undefined }))
  return { model: { ...model, graph: { ...g, outputs: [...g.outputs, ...added] } }, streams }
}
