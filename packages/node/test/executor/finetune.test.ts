/**
 * Fine-tuning graphs with real in-process ONNX Runtime sessions: the LoRA step graph's
 * gradients against a float64 reference, merge-lora against the adapter-applied network in
 * float64, and a head's backbone cut and combined model against the MLP they come from.
 */
import { buildMlpModel, decodeOnnxModel, encodeOnnxModel, extractMlp, type Mlp } from '@ocn/prover'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import {
  backboneModel,
  buildLoraStepModel,
  composeHeadModel,
  encodeSafetensors,
  HEAD_FEATURES,
  LORA_FORMAT,
  type LoraTarget,
  loraParams,
  loraTargets,
  mergeLora,
  type NamedTensors,
  parseJobSpec,
} from '../../src/executor/index.js'
import { classifierSpec, f32, lcg, randomMlp, referenceMlp } from './helpers.js'

/** Each layer's effective float64 weight [in, out]: W + s A B where adapted. */
function effectiveWeights(
  mlp: Mlp,
  adapters: Map<number, { a: Float64Array; b: Float64Array }>,
  rank: number,
  s: number,
) {
  return mlp.layers.map((l, i) => {
    const w = Float64Array.from(l.weight)
    const ad = adapters.get(i)
    if (ad) {
      for (let r = 0; r < l.inFeatures; r++) {
        for (let o = 0; o < l.outFeatures; o++) {
          let d = 0
          for (let k = 0; k < rank; k++) d += ad.a[r * rank + k]! * ad.b[k * l.outFeatures + o]!
          w[r * l.outFeatures + o] = w[r * l.outFeatures + o]! + s * d
        }
      }
    }
    return w
  })
}

/** float64 forward of the adapter-applied MLP (relu/tanh), [batch, out] row-major. */
function forward64(mlp: Mlp, weights: Float64Array[], x: number[], batch: number): number[] {
  let h = x
  mlp.layers.forEach((l, i) => {
    const out: number[] = []
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < l.outFeatures; o++) {
        let z = l.bias[o]!
        for (let r = 0; r < l.inFeatures; r++)
          z += h[b * l.inFeatures + r]! * weights[i]![r * l.outFeatures + o]!
        out.push(l.activation === 'relu' ? Math.max(0, z) : l.activation === 'tanh' ? Math.tanh(z) : z)
      }
    }
    h = out
  })
  return h
}

function crossEntropy64(logits: number[], labels: number[], classes: number): number {
  let total = 0
  labels.forEach((y, b) => {
    const row = logits.slice(b * classes, (b + 1) * classes)
    const m = Math.max(...row)
    total += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[y]!
  })
  return total / labels.length
}

describe('LoRA', () => {
  const sizes = [4, 7, 5, 3]
  const rank = 2
  const alpha = 3
  const batch = 6

  it('step-graph gradients of the adapters match a float64 finite-difference reference', async () => {
    const mlp = randomMlp(sizes, 'tanh', 21)
    const model = decodeOnnxModel(encodeOnnxModel(buildMlpModel(mlp, { style: 'matmul-add' })))
    const lora = { targets: ['layer2.weight', 'layer0.weight'], rank, alpha }
    const targets = loraTargets(lora, model, extractMlp(model))
    expect(targets.map((t) => t.layer)).toEqual([0, 2])
    const optimizer = { type: 'sgd' as const, learningRate: 0.1, momentum: 0 }
    const graph = buildLoraStepModel({
      mlp,
      targets,
      lora,
      loss: 'softmax-cross-entropy',
      optimizer,
      emitGradients: true,
    })
    const session = await ort.InferenceSession.create(encodeOnnxModel(graph), { intraOpNumThreads: 1 })
    const r = lcg(3)
    const params = loraParams(targets, rank)
    // nonzero B too, so every adapter has a gradient
    const values = params.map((p) => Float32Array.from({ length: p.dims[0]! * p.dims[1]! }, () => r()))
    const x = Array.from({ length: batch * sizes[0]! }, () => r() * 2)
    const y = Array.from({ length: batch }, (_, i) => i % 3)
    const feeds: Record<string, ort.Tensor> = {
      x: new ort.Tensor('float32', Float32Array.from(x), [batch, sizes[0]!]),
      y: new ort.Tensor('int64', BigInt64Array.from(y.map(BigInt)), [batch]),
    }
    params.forEach((p, k) => {
      feeds[p.name] = new ort.Tensor('float32', values[k]!, p.dims)
      feeds[`${p.name}.velocity`] = new ort.Tensor('float32', new Float32Array(values[k]!.length), p.dims)
    })
    const out = await session.run(feeds)
    const p64 = values.map((v) => Float64Array.from(v))
    const lossAt = () => {
      const adapters = new Map(targets.map((t, j) => [t.layer, { a: p64[2 * j]!, b: p64[2 * j + 1]! }]))
      return crossEntropy64(
        forward64(mlp, effectiveWeights(mlp, adapters, rank, alpha / rank), x, batch),
        y,
        3,
      )
    }
    expect((out.loss!.data as Float32Array)[0]).toBeCloseTo(lossAt(), 5)
    let maxErr = 0
    let maxRef = 0
    params.forEach((p, k) => {
      const got = out[`grad.${p.name}`]!.data as Float32Array
      expect(got.length).toBe(values[k]!.length)
      for (let i = 0; i < got.length; i++) {
        const save = p64[k]![i]!
        p64[k]![i] = save + 1e-6
        const up = lossAt()
        p64[k]![i] = save - 1e-6
        const down = lossAt()
        p64[k]![i] = save
        const ref = (up - down) / 2e-6
        maxErr = Math.max(maxErr, Math.abs(got[i]! - ref))
        maxRef = Math.max(maxRef, Math.abs(ref))
      }
      const next = out[`next.${p.name}`]!.data as Float32Array
      for (let i = 0; i < got.length; i++) expect(next[i]).toBeCloseTo(values[k]![i]! - 0.1 * got[i]!, 5)
    })
    expect(maxRef).toBeGreaterThan(1e-3)
    expect(maxErr / maxRef).toBeLessThan(2e-4)
    await session.release()
  })

  it('refuses a target that is not a dense weight, naming the ones there are', () => {
    const model = decodeOnnxModel(encodeOnnxModel(buildMlpModel(randomMlp(sizes, 'relu'))))
    expect(() => loraTargets({ targets: ['layer1.bias'], rank, alpha }, model, extractMlp(model))).toThrow(
      expect.objectContaining({
        code: 'EXECUTOR_SPEC_INVALID',
        details: expect.stringContaining('layer0.weight'),
      }),
    )
  })

  for (const style of ['gemm', 'matmul-add'] as const) {
    it(`merge-lora folds adapters into the base model (${style}): outputs equal the adapter-applied network`, async () => {
      const mlp = randomMlp(sizes, 'relu', 8)
      const base = encodeOnnxModel(buildMlpModel(mlp, { style, inputName: 'features', outputName: 'logits' }))
      const targets: LoraTarget[] = [
        { layer: 1, weight: 'layer1.weight', inFeatures: 7, outFeatures: 5 },
        { layer: 2, weight: 'layer2.weight', inFeatures: 5, outFeatures: 3 },
      ]
      const r = lcg(12)
      const tensors: NamedTensors = {}
      const adapters = new Map<number, { a: Float64Array; b: Float64Array }>()
      for (const t of targets) {
        const a = Array.from({ length: t.inFeatures * rank }, r)
        const b = Array.from({ length: rank * t.outFeatures }, r)
        tensors[`${t.weight}.lora_A`] = f32([t.inFeatures, rank], a)
        tensors[`${t.weight}.lora_B`] = f32([rank, t.outFeatures], b)
        adapters.set(t.layer, {
          a: Float64Array.from(Float32Array.from(a)),
          b: Float64Array.from(Float32Array.from(b)),
        })
      }
      const file = encodeSafetensors(tensors, {
        format: LORA_FORMAT,
        rank: String(rank),
        alpha: String(alpha),
      })
      const { model: merged, weights } = mergeLora(base, file)
      expect(weights).toEqual(['layer1.weight', 'layer2.weight'])
      const mergedModel = decodeOnnxModel(merged)
      // only the adapted weights change
      const before = new Map(decodeOnnxModel(base).graph.initializers.map((t) => [t.name, t.data.join()]))
      for (const t of mergedModel.graph.initializers) {
        expect(t.data.join() === before.get(t.name)).toBe(
          !['layer1.weight', 'layer2.weight'].includes(t.name),
        )
      }
      const x = Array.from({ length: batch * 4 }, () => r() * 3)
      const session = await ort.InferenceSession.create(merged, { intraOpNumThreads: 1 })
      const out = (
        await session.run({ features: new ort.Tensor('float32', Float32Array.from(x), [batch, 4]) })
      ).logits!
      const ref = forward64(
        mlp,
        effectiveWeights(mlp, adapters, rank, alpha / rank),
        Array.from(Float32Array.from(x)),
        batch,
      )
      const got = out.data as Float32Array
      for (const [i, v] of ref.entries()) expect(Math.abs(got[i]! - v)).toBeLessThan(1e-5 * (1 + Math.abs(v)))
      // and they differ from the base model's
      const plain = referenceMlp(mlp, Float32Array.from(x), batch)
      expect(plain.some((v, i) => Math.abs(v - got[i]!) > 1e-3)).toBe(true)
      await session.release()
    })
  }

  it('merge-lora refuses adapters for weights the base model does not have', () => {
    const base = encodeOnnxModel(buildMlpModel(randomMlp(sizes, 'relu')))
    const file = encodeSafetensors(
      {
        'other.weight.lora_A': f32([4, 1], [1, 2, 3, 4]),
        'other.weight.lora_B': f32([1, 7], [1, 2, 3, 4, 5, 6, 7]),
      },
      { format: LORA_FORMAT, rank: '1', alpha: '1' },
    )
    expect(() => mergeLora(base, file)).toThrow(expect.objectContaining({ code: 'EXECUTOR_INPUT_MISMATCH' }))
    expect(() => mergeLora(base, encodeSafetensors({}, {}))).toThrow(/not ocn-lora-v1/)
  })
})

describe('head on a frozen backbone', () => {
  it('cuts the backbone at a named tensor and appends a head after it', async () => {
    const mlp = randomMlp([4, 8, 6, 3], 'tanh', 2)
    const model = buildMlpModel(mlp, { inputName: 'pixels', outputName: 'logits' })
    // the activation after the second layer: the 6 features a head reads
    const features = model.graph.nodes.filter((n) => n.opType === 'Tanh')[1]!.outputs[0]!
    const backbone = backboneModel(model, { features })
    expect(backbone.input).toBe('pixels')
    expect(backbone.model.graph.nodes.some((n) => n.inputs.includes('layer2.weight'))).toBe(false)
    expect(backbone.model.graph.initializers.map((t) => t.name)).not.toContain('layer2.weight')
    const head = randomMlp([6, 5, 2], 'relu', 4)
    const combined = encodeOnnxModel(composeHeadModel(backbone, head))
    const batch = 5
    const x = Float32Array.from({ length: batch * 4 }, lcg(6))
    const feed = { pixels: new ort.Tensor('float32', x, [batch, 4]) }
    const cut = await ort.InferenceSession.create(encodeOnnxModel(backbone.model), { intraOpNumThreads: 1 })
    const feats = (await cut.run(feed))[HEAD_FEATURES]!
    expect(feats.dims).toEqual([batch, 6])
    const trunk = { ...mlp, layers: mlp.layers.slice(0, 2) }
    const refFeats = referenceMlp(trunk, x, batch)
    for (const [i, v] of (feats.data as Float32Array).entries()) expect(v).toBeCloseTo(refFeats[i]!, 5)
    const full = await ort.InferenceSession.create(combined, { intraOpNumThreads: 1 })
    const out = (await full.run(feed)).output!
    const ref = referenceMlp(head, Float32Array.from(refFeats), batch)
    for (const [i, v] of (out.data as Float32Array).entries()) expect(v).toBeCloseTo(ref[i]!, 4)
    await cut.release()
    await full.release()
  })

  it('refuses a features name the model does not compute', () => {
    const model = buildMlpModel(randomMlp([4, 3], 'relu'))
    expect(() => backboneModel(model, { features: 'nope' })).toThrow(
      expect.objectContaining({
        code: 'EXECUTOR_SPEC_INVALID',
        message: expect.stringContaining('spec.model.head.features'),
      }),
    )
  })
})

describe('fine-tuning specs', () => {
  const parse = (model: unknown, extra: Record<string, unknown> = {}) =>
    parseJobSpec({ ...classifierSpec(), model, ...extra })
  const head = { features: 'h', hiddenLayers: [4], outputs: 3, activation: 'relu' }

  it('parses head and lora models (alpha defaults to rank)', () => {
    expect(parse({ baseModel: true, head })).toMatchObject({ model: { baseModel: true, head } })
    expect(parse({ baseModel: true, lora: { targets: ['w'], rank: 2 } })).toMatchObject({
      model: { lora: { targets: ['w'], rank: 2, alpha: 2 } },
    })
  })

  it('refuses mixed, empty or duplicate choices, naming the field', () => {
    const refused = (model: unknown, field: string, extra?: Record<string, unknown>) =>
      expect(() => parse(model, extra)).toThrow(
        expect.objectContaining({ message: expect.stringContaining(field) }),
      )
    refused({ baseModel: true, head, lora: { targets: ['w'], rank: 2 } }, 'names both head and lora')
    refused({ baseModel: true, lora: { targets: [], rank: 2 } }, 'spec.model.lora.targets')
    refused({ baseModel: true, lora: { targets: ['w', 'w'], rank: 2 } }, 'spec.model.lora.targets')
    refused({ baseModel: true, lora: { targets: ['w'], rank: 0 } }, 'spec.model.lora.rank')
    refused({ baseModel: true, head: { ...head, features: '' } }, 'spec.model.head.features')
  })

  it('accepts attribution on head and lora jobs (test/attribution/finetune.test.ts computes it)', () => {
    const attribution = {
      method: 'tracin-cp-v1',
      manifest: `0x${'ab'.repeat(32)}`,
      validation: { features: 'vx', targets: 'vy' },
    }
    for (const model of [
      { baseModel: true, head },
      { baseModel: true, lora: { targets: ['w'], rank: 2 } },
    ]) {
      expect(parse(model, { attribution })).toMatchObject({ attribution })
    }
  })
})
