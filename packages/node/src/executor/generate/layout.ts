/**
 * The decoder export layout a generation job needs, read off the model's signature:
 * `input_ids` and `attention_mask` (int64 [batch, seq]), optional `position_ids`, and per
 * layer `past_key_values.<i>.key/value` in and `present.<i>.key/value` out, each float32
 * [batch, heads, seq, headDim] with heads and headDim fixed; `logits` [batch, seq, vocab] out.
 * A refusal names the first thing missing and how the export gets it (docs/execution.md).
 */
import { ExecutorError } from '../errors.js'
import type { ModelSignature, ValueSignature } from '../worker-protocol.js'
import type { DecoderLayout } from './params.js'

export type { DecoderLayout } from './params.js'

const EXPORT_HINT = 'export the decoder "with past" (see docs/execution.md, Generation)'

function refuse(what: string): never {
  throw new ExecutorError(
    'EXECUTOR_INPUT_MISMATCH',
    `not a decoder in the export layout: ${what}; ${EXPORT_HINT}`,
  )
}

function need(values: ValueSignature[], name: string, type: string, where: string): ValueSignature {
  const v = values.find((x) => x.name === name)
  if (!v) refuse(`the model has no ${where} ${name}`)
  if (v.type !== type) refuse(`${where} ${name} is ${v.type}, not ${type}`)
  return v
}

function cacheDims(v: ValueSignature): [number, number] {
  const s = v.shape
  if (s?.length !== 4 || typeof s[1] !== 'number' || typeof s[3] !== 'number') {
    refuse(
      `${v.name} is [${s?.join(', ')}], not [batch, heads, sequence, headDim] with fixed heads and headDim`,
    )
  }
  return [s[1], s[3]]
}

export function decoderLayout(sig: ModelSignature): DecoderLayout {
  need(sig.inputs, 'input_ids', 'int64', 'input')
  need(sig.inputs, 'attention_mask', 'int64', 'input')
  const positionIds = sig.inputs.some((i) => i.name === 'position_ids')
  if (positionIds) need(sig.inputs, 'position_ids', 'int64', 'input')
  const logits = need(sig.outputs, 'logits', 'float32', 'output')
  const layers: DecoderLayout['layers'] = []
  let dims: [number, number] | undefined
  for (let i = 0; sig.inputs.some((x) => x.name === `past_key_values.${i}.key`); i++) {
    const l = {
      pastKey: `past_key_values.${i}.key`,
      pastValue: `past_key_values.${i}.value`,
      presentKey: `present.${i}.key`,
      presentValue: `present.${i}.value`,
    }
    for (const [name, where] of [
      [l.pastKey, 'input'],
      [l.pastValue, 'input'],
      [l.presentKey, 'output'],
      [l.presentValue, 'output'],
    ] as const) {
      const d = cacheDims(need(where === 'input' ? sig.inputs : sig.outputs, name, 'float32', where))
      if (dims && (d[0] !== dims[0] || d[1] !== dims[1]))
        refuse(`${name} has other heads or headDim than layer 0`)
      dims = d
    }
    layers.push(l)
  }
  if (!dims) refuse('the model has no input past_key_values.0.key (a KV cache)')
  const known = new Set([
    'input_ids',
    'attention_mask',
    'position_ids',
    ...layers.flatMap((l) => [l.pastKey, l.pastValue]),
  ])
  const extra = sig.inputs.find((i) => !known.has(i.name))
  if (extra) refuse(`input ${extra.name} is not part of it`)
  const v = logits.shape?.[2]
  return {
    layers,
    positionIds,
    heads: dims[0],
    headDim: dims[1],
    vocab: typeof v === 'number' ? v : undefined,
  }
}
