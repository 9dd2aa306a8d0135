import { buildGptModel, encodeOnnxModel, GraphBuilder, gptCacheNames, type OnnxModel } from '@ocn/prover/onnx'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import {
  CHECK_LOGITS_OUTPUT,
  CHECK_ROWS_INPUT,
  sampledRowsModel,
} from '../../src/executor/generate/check-graph.js'
import { rowsModelAgrees } from '../../src/executor/generate/decode.js'
import { decoderLayout } from '../../src/executor/generate/layout.js'

const config = { vocab: 61, dModel: 32, heads: 4, layers: 2, maxPositions: 128, seed: 7 }
const options = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' } as const

const session = (m: OnnxModel) => ort.InferenceSession.create(encodeOnnxModel(m), options)
const int64 = (v: number[], dims: number[]) =>
  new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), dims)

function prefillFeeds(ids: number[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(ids, [1, ids.length]),
    attention_mask: int64(
      ids.map(() => 1),
      [1, ids.length],
    ),
    position_ids: int64(
      ids.map((_, i) => i),
      [1, ids.length],
    ),
  }
  for (let l = 0; l < config.layers; l++) {
    const n = gptCacheNames(l)
    const empty = new ort.Tensor('float32', new Float32Array(0), [1, config.heads, 0, 8])
    feeds[n.pastKey] = empty
    feeds[n.pastValue] = empty
  }
  return feeds
}

async function layoutOf(s: ort.InferenceSession) {
  const sig = (meta: readonly ort.InferenceSession.ValueMetadata[]) =>
    meta.map((m) => ({
      name: m.name,
      type: m.isTensor ? m.type : 'non-tensor',
      shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) : undefined,
    }))
  return decoderLayout({ inputs: sig(s.inputMetadata), outputs: sig(s.outputMetadata) })
}

describe('check-rows model (logits for the sampled rows only)', () => {
  it('gives the plain prefill logits at the named rows, with the tail run on those rows only', async () => {
    const base = buildGptModel(config)
    const rows = sampledRowsModel(base)
    expect(rows).toBeDefined()
    const nodes = rows!.graph.nodes
    // two gathers: the residual stream entering the last layer and its merged attention heads
    const gathers = nodes.filter((n) => n.inputs.includes(CHECK_ROWS_INPUT))
    expect(gathers).toHaveLength(2)
    // the LM head, the final norm and the last MLP now read gathered rows; nothing computes full-width logits
    // (the fixture names its logits with an Identity after the LM head's MatMul)
    const named = nodes.find((n) => n.outputs.includes(CHECK_LOGITS_OUTPUT))!
    const head = nodes.find((n) => n.outputs.includes(named.inputs[0]!))!
    expect(head.opType).toBe('MatMul')
    expect(head.inputs[1]).toBe('lm_head')
    expect(nodes.some((n) => n.outputs.includes('logits'))).toBe(false)
    expect(nodes).toHaveLength(base.graph.nodes.length + 2)
    // what the rest of the graph needs stays: every present.* output is still made
    expect(rows!.graph.outputs.map((o) => o.name).filter((n) => n.startsWith('present'))).toHaveLength(4)

    const ids = Array.from({ length: 40 }, (_, i) => (i * 13 + 5) % config.vocab)
    const picked = [0, 7, 8, 23, 39]
    const plain = await (await session(base)).run(prefillFeeds(ids), ['logits'])
    const feeds = prefillFeeds(ids)
    feeds[CHECK_ROWS_INPUT] = int64(picked, [picked.length])
    const out = await (await session(rows!)).run(feeds, [CHECK_LOGITS_OUTPUT])
    const got = out[CHECK_LOGITS_OUTPUT] as ort.Tensor
    expect(got.dims).toEqual([1, picked.length, config.vocab])
    const full = (plain.logits as ort.Tensor).data as Float32Array
    const mine = got.data as Float32Array
    picked.forEach((r, k) => {
      for (let j = 0; j < config.vocab; j++) {
        expect(Math.abs(mine[k * config.vocab + j]! - full[r * config.vocab + j]!)).toBeLessThan(1e-4)
      }
    })
  })

  it('declines a model whose logits come from an op that mixes positions', () => {
    const b = new GraphBuilder('mixing')
    const x = b.input('x', 'float32', ['batch', 'sequence', 4])
    const mixed = b.op('Transpose', [x], { perm: [0, 2, 1] })
    b.output(b.op('Softmax', [mixed], { axis: 1 }), 'float32', ['batch', 4, 'sequence'], 'logits')
    expect(sampledRowsModel(b.build())).toBeUndefined()
    // logits that are not an output of the graph at all
    expect(sampledRowsModel(buildGptModel(config), 'hidden')).toBeUndefined()
  })

  it('keeps a row-wise tensor the graph also outputs and gathers it instead of removing its producer', () => {
    const b = new GraphBuilder('shared')
    const x = b.input('x', 'float32', ['batch', 'sequence', 4])
    const w = b.initializer('w', 'float32', [4, 3], new Float32Array(12).fill(0.5))
    const hidden = b.op('Relu', [x], {}, { outputs: ['hidden'] })
    b.output(b.op('MatMul', [hidden, w]), 'float32', ['batch', 'sequence', 3], 'logits')
    b.output(hidden, 'float32', ['batch', 'sequence', 4], 'hidden')
    const rows = sampledRowsModel(b.build())!
    expect(rows.graph.nodes.find((n) => n.opType === 'Relu')?.outputs).toEqual(['hidden'])
    expect(rows.graph.nodes.find((n) => n.opType === 'Gather')?.inputs).toEqual(['hidden', CHECK_ROWS_INPUT])
  })

  it('is used only after its logits agree with the plain prefill on a probe', async () => {
    const base = await session(buildGptModel(config))
    const layout = await layoutOf(base)
    expect(await rowsModelAgrees(base, await session(sampledRowsModel(buildGptModel(config))!), layout)).toBe(
      true,
    )
    // another model's rows (other weights) disagree, so the check pass keeps the plain prefill
    const other = sampledRowsModel(buildGptModel({ ...config, seed: 8 }))!
    expect(await rowsModelAgrees(base, await session(other), layout)).toBe(false)
  })
})
