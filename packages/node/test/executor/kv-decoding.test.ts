import { buildGptModel, encodeOnnxModel, GraphBuilder, type OnnxModel } from '@ocn/prover/onnx'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { decode, type KvDecoding, kvModelAgrees } from '../../src/executor/generate/decode.js'
import { KvCache } from '../../src/executor/generate/kv-cache.js'
import { kvStepModel } from '../../src/executor/generate/kv-graph.js'
import { decoderLayout } from '../../src/executor/generate/layout.js'
import type { DecodeParams, DecoderLayout } from '../../src/executor/generate/params.js'

const config = { vocab: 61, dModel: 32, heads: 4, layers: 2, maxPositions: 128, seed: 7 }
const options = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' } as const

const session = (m: OnnxModel) => ort.InferenceSession.create(encodeOnnxModel(m), options)

async function layoutOf(s: ort.InferenceSession): Promise<DecoderLayout> {
  const sig = (meta: readonly ort.InferenceSession.ValueMetadata[]) =>
    meta.map((m) => ({
      name: m.name,
      type: m.isTensor ? m.type : 'non-tensor',
      shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) : undefined,
    }))
  return decoderLayout({ inputs: sig(s.inputMetadata), outputs: sig(s.outputMetadata) })
}

async function kvOf(model: OnnxModel, layout: DecoderLayout): Promise<KvDecoding> {
  const rewritten = kvStepModel(model, layout)!
  return { session: await session(rewritten.model), streams: rewritten.streams }
}

const params = (layout: DecoderLayout, rule: DecodeParams['rule']): DecodeParams => ({
  layout,
  prompt: [3, 14, 15, 9, 26, 5],
  promptIndex: 0,
  rule,
  seed: `0x${'ab'.repeat(32)}`,
  maxNewTokens: 48,
  stopTokens: [],
})

describe('decoding with the KV cache in reused buffers', () => {
  it('adds each layer’s new key and value rows as outputs and changes nothing else', async () => {
    const base = buildGptModel(config)
    const layout = await layoutOf(await session(base))
    const rewritten = kvStepModel(base, layout)!
    expect(rewritten.streams).toHaveLength(2 * config.layers)
    for (const s of rewritten.streams) {
      const concat = base.graph.nodes.find((n) => n.outputs.includes(s.present))!
      expect(concat.opType).toBe('Concat')
      expect(concat.inputs).toEqual([s.past, s.fresh])
    }
    expect(rewritten.model.graph.nodes).toEqual(base.graph.nodes)
    expect(rewritten.model.graph.outputs.map((o) => o.name)).toEqual([
      ...base.graph.outputs.map((o) => o.name),
      ...rewritten.streams.map((s) => s.fresh),
    ])
  })

  it('declines a cache output that is not the past concatenated on the sequence axis', async () => {
    const base = buildGptModel(config)
    const layout = await layoutOf(await session(base))
    const other = structuredClone(base)
    const concat = other.graph.nodes.find((n) => n.outputs.includes(layout.layers[1]!.presentValue))!
    concat.attributes = [{ name: 'axis', type: 'int', value: 3n }]
    expect(kvStepModel(other, layout)).toBeUndefined()
    const swapped = structuredClone(base)
    const c = swapped.graph.nodes.find((n) => n.outputs.includes(layout.layers[0]!.presentKey))!
    c.inputs = [c.inputs[1]!, c.inputs[0]!]
    expect(kvStepModel(swapped, layout)).toBeUndefined()
  })

  it('decodes the same tokens and logits digests as the plain loop, greedy and sampled', async () => {
    const base = buildGptModel(config)
    const full = await session(base)
    const layout = await layoutOf(full)
    const kv = await kvOf(base, layout)
    for (const rule of [{ temperature: 0 }, { temperature: 0.9, topK: 20, topP: 0.95 }]) {
      const p = params(layout, rule as DecodeParams['rule'])
      const plain = await decode(
        full,
        p,
        () => {},
        () => false,
      )
      const cached = await decode(
        full,
        p,
        () => {},
        () => false,
        kv,
      )
      expect(cached.tokens).toHaveLength(p.maxNewTokens)
      expect(cached.tokens).toEqual(plain.tokens)
      expect(cached.digests).toEqual(plain.digests)
    }
  })

  it('is used only after a probe decodes bit for bit as the plain session', async () => {
    const base = buildGptModel(config)
    const full = await session(base)
    const layout = await layoutOf(full)
    expect(await kvModelAgrees(full, await kvOf(base, layout), layout)).toBe(true)
    // another model's decoding session (other weights) disagrees: the plain loop stays
    expect(await kvModelAgrees(full, await kvOf(buildGptModel({ ...config, seed: 8 }), layout), layout)).toBe(
      false,
    )
  })

  it('refuses rows of the wrong shape and a cache longer than it was sized for', () => {
    const stream = { past: 'past', present: 'present', fresh: 'fresh' }
    const cache = new KvCache([stream], 2, 3, 4)
    const rows = (n: number, heads = 2) =>
      ({
        fresh: new ort.Tensor('float32', new Float32Array(heads * n * 3).fill(1), [1, heads, n, 3]),
      }) as never
    cache.append(rows(3), 3)
    expect(() => cache.append(rows(1, 3), 1)).toThrow(/unexpected shape/)
    expect(() => cache.append(rows(2), 2)).toThrow(/grew past/)
    cache.append(rows(1), 1)
    expect(cache.positions).toBe(4)
    expect((cache.feeds().past!.dims as number[]).join()).toBe('1,2,4,3')
  })

  it('keeps every head’s rows in order as the cache grows', () => {
    const stream = { past: 'past', present: 'present', fresh: 'fresh' }
    const cache = new KvCache([stream], 2, 1, 3)
    // [1, heads 2, n, 1]: head 0 then head 1
    const step = (h0: number[], h1: number[]) =>
      cache.append(
        { fresh: new ort.Tensor('float32', Float32Array.from([...h0, ...h1]), [1, 2, h0.length, 1]) },
        h0.length,
      )
    step([1, 2], [10, 20])
    step([3], [30])
    expect([...(cache.feeds().past!.data as Float32Array)]).toEqual([1, 2, 3, 10, 20, 30])
  })
})

describe('decoding graph on a model built otherwise', () => {
  it('declines a decoder whose cache is not a Concat of the past', () => {
    const b = new GraphBuilder('no-concat')
    const past = b.input('past_key_values.0.key', 'float32', ['batch', 2, 'past', 4])
    b.output(b.op('Identity', [past]), 'float32', ['batch', 2, 'past', 4], 'present.0.key')
    const layout: DecoderLayout = {
      layers: [
        {
          pastKey: 'past_key_values.0.key',
          pastValue: 'past_key_values.0.value',
          presentKey: 'present.0.key',
          presentValue: 'present.0.value',
        },
      ],
      positionIds: false,
      heads: 2,
      headDim: 4,
      vocab: undefined,
    }
    expect(kvStepModel(b.build(), layout)).toBeUndefined()
  })
})
