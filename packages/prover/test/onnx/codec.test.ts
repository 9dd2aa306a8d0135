import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import {
  buildMlpModel,
  decodeOnnxModel,
  encodeOnnxModel,
  extractMlp,
  float16ToNumber,
  GraphBuilder,
  type Mlp,
  numberToFloat16,
  OnnxError,
  tensorFloat32,
  tensorValues,
} from '../../src/onnx/index.js'
import { ProtoWriter } from '../../src/onnx/wire.js'

function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

function randomMlp(sizes: number[], activation: 'relu' | 'tanh' | 'gelu', seed = 1): Mlp {
  const r = lcg(seed)
  return {
    layers: sizes.slice(1).map((out, i) => {
      const inF = sizes[i]!
      return {
        inFeatures: inF,
        outFeatures: out,
        weight: Float32Array.from({ length: inF * out }, r),
        bias: Float32Array.from({ length: out }, r),
        activation: i === sizes.length - 2 ? 'none' : activation,
      }
    }),
    softmaxOutput: false,
  }
}

function referenceForward(mlp: Mlp, x: Float32Array, batch: number): Float64Array {
  let h = Float64Array.from(x)
  for (const l of mlp.layers) {
    const out = new Float64Array(batch * l.outFeatures)
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < l.outFeatures; o++) {
        let s = l.bias[o]!
        for (let i = 0; i < l.inFeatures; i++)
          s += h[b * l.inFeatures + i]! * l.weight[i * l.outFeatures + o]!
        if (l.activation === 'relu') s = Math.max(0, s)
        else if (l.activation === 'tanh') s = Math.tanh(s)
        out[b * l.outFeatures + o] = s
      }
    }
    h = out
  }
  return h
}

describe('ONNX codec', () => {
  it('builds an MLP that ONNX Runtime runs and that matches a plain reference', async () => {
    for (const style of ['gemm', 'matmul-add'] as const) {
      const mlp = randomMlp([5, 16, 8, 3], 'relu')
      const bytes = encodeOnnxModel(buildMlpModel(mlp, { style }))
      const session = await ort.InferenceSession.create(bytes)
      const x = Float32Array.from({ length: 4 * 5 }, lcg(7))
      const out = await session.run({ input: new ort.Tensor('float32', x, [4, 5]) })
      const got = out.output!.data as Float32Array
      const want = referenceForward(mlp, x, 4)
      expect(out.output!.dims).toEqual([4, 3])
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 4)
      await session.release()
    }
  })

  it('round-trips a model through decode and encode byte for byte', () => {
    const model = buildMlpModel(randomMlp([3, 4, 2], 'tanh'))
    const bytes = encodeOnnxModel(model)
    const decoded = decodeOnnxModel(bytes)
    expect(decoded.graph.nodes.map((n) => n.opType)).toEqual(['Gemm', 'Tanh', 'Gemm', 'Identity'])
    expect(decoded.graph.inputs[0]).toEqual({ name: 'input', elemType: 'float32', shape: ['batch', 3] })
    expect(decoded.opsetImports).toEqual([{ domain: '', version: 17 }])
    expect(encodeOnnxModel(decoded)).toEqual(bytes)
  })

  it('extracts MLP weights from Gemm (transB=1), MatMul+Add and Gelu models', () => {
    const mlp = randomMlp([4, 6, 2], 'gelu')
    for (const style of ['gemm', 'matmul-add'] as const) {
      const back = extractMlp(decodeOnnxModel(encodeOnnxModel(buildMlpModel(mlp, { style }))))
      expect(back.layers.map((l) => l.activation)).toEqual(['gelu', 'none'])
      expect(back.layers[0]!.weight).toEqual(mlp.layers[0]!.weight)
      expect(back.layers[1]!.bias).toEqual(mlp.layers[1]!.bias)
      expect(back.names).toEqual({ input: 'input', output: 'output' })
    }
    // PyTorch-style export: W stored [out, in] with transB=1
    const b = new GraphBuilder()
    const x = b.input('x', 'float32', ['N', 3])
    const w = b.initializer('fc.weight', 'float32', [2, 3], [1, 2, 3, 4, 5, 6])
    const bias = b.initializer('fc.bias', 'float32', [2], [0.5, -0.5])
    const y = b.op('Relu', [b.op('Gemm', [x, w, bias], { transB: 1 })])
    b.output(y, 'float32', ['N', 2], 'y')
    const got = extractMlp(b.build())
    expect(Array.from(got.layers[0]!.weight)).toEqual([1, 4, 2, 5, 3, 6])
    expect(got.layers[0]).toMatchObject({ inFeatures: 3, outFeatures: 2, activation: 'relu' })
  })

  it('refuses graphs that are not a dense chain', () => {
    const b = new GraphBuilder()
    const x = b.input('x', 'float32', ['N', 3])
    b.output(b.op('Exp', [x]), 'float32', ['N', 3], 'y')
    expect(() => extractMlp(b.build())).toThrow(/Exp is not part of a dense MLP/)
  })

  it('reads tensors stored as float_data, int64_data, int32_data and double_data', () => {
    const tensor = (fill: (w: ProtoWriter) => void) => {
      const w = new ProtoWriter()
      w.messageField(7, (g) => {
        g.messageField(5, fill)
      })
      return decodeOnnxModel(w.finish()).graph.initializers[0]!
    }
    const f = tensor((t) => {
      t.packedVarints(1, [2])
      t.varintField(2, 1)
      t.packedFloats(4, [1.5, -2])
      t.stringField(8, 'f')
    })
    expect(Array.from(tensorFloat32(f))).toEqual([1.5, -2])
    const i64 = tensor((t) => {
      t.packedVarints(1, [3])
      t.varintField(2, 7)
      t.packedVarints(7, [1n, -5n, 2n ** 40n])
    })
    expect(Array.from(tensorValues(i64) as BigInt64Array)).toEqual([1n, -5n, 2n ** 40n])
    const half = tensor((t) => {
      t.packedVarints(1, [2])
      t.varintField(2, 10)
      t.packedVarints(5, [numberToFloat16(0.5), numberToFloat16(-3)])
    })
    expect(Array.from(tensorFloat32(half))).toEqual([0.5, -3])
    const dbl = tensor((t) => {
      t.packedVarints(1, [1])
      t.varintField(2, 11)
      const bytes = new Uint8Array(8)
      new DataView(bytes.buffer).setFloat64(0, Math.PI, true)
      t.bytesField(10, bytes)
    })
    expect(Array.from(tensorValues(dbl) as Float64Array)).toEqual([Math.PI])
  })

  it('converts float16 exactly and rounds to nearest even', () => {
    for (const v of [0, 1, -1, 0.1, 65504, 6.1e-5, 5.96e-8]) {
      expect(Math.abs(float16ToNumber(numberToFloat16(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11)
    }
    expect(numberToFloat16(1e6)).toBe(0x7c00)
    expect(float16ToNumber(numberToFloat16(1 + 2 ** -11))).toBe(1) // tie goes to even
  })

  it('throws a typed ONNX_DECODE error on corrupt bytes', () => {
    const bytes = encodeOnnxModel(buildMlpModel(randomMlp([3, 2], 'relu')))
    for (const bad of [
      bytes.subarray(0, bytes.length - 7),
      Uint8Array.from([0x3a, 0xff, 0xff, 0xff]),
      new Uint8Array(),
    ]) {
      try {
        decodeOnnxModel(bad)
        expect.unreachable()
      } catch (e) {
        expect(e).toBeInstanceOf(OnnxError)
        expect((e as OnnxError).code).toBe('ONNX_DECODE')
      }
    }
    expect(() => decodeOnnxModel(bytes, { maxBytes: 10 })).toThrow(/larger than allowed/)
  })
})
