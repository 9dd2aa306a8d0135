import { resolve } from 'node:path'
import * as ort from 'onnxruntime-node'
import { encodeOnnxModel, GraphBuilder, type Mlp } from '../../src/onnx/index.js'
import type { QuantizedMlp } from '../../src/zk/index.js'

/** The repo's gitignored cache: ptau and keys survive between test runs. */
export const TEST_CACHE_DIR = resolve(import.meta.dirname, '../../../../.cache/ocn-zk')

export function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

/** A ReLU MLP with weights scaled like a trained layer (about 1/sqrt(fan-in)). */
export function randomMlp(sizes: readonly number[], seed: number): Mlp {
  const r = lcg(seed)
  return {
    softmaxOutput: false,
    layers: sizes.slice(1).map((out, i) => {
      const inFeatures = sizes[i]!
      const spread = 2 / Math.sqrt(inFeatures)
      return {
        inFeatures,
        outFeatures: out,
        weight: Float32Array.from({ length: inFeatures * out }, () => r() * spread),
        bias: Float32Array.from({ length: out }, () => r() * 0.2),
        activation: i === sizes.length - 2 ? 'none' : 'relu',
      }
    }),
  }
}

export function randomInputs(count: number, size: number, seed: number): number[][] {
  const r = lcg(seed)
  return Array.from({ length: count }, () => Array.from({ length: size }, () => r() * 4))
}

/**
 * The quantized model as an ONNX graph in float64: MatMul by the integer weights, Add the integer
 * bias, Div by 2^s, Floor, Relu. Every intermediate is an integer below 2^53, so double arithmetic is
 * exact and ONNX Runtime computes the same integers as the circuit.
 */
export function quantizedOnnxGraph(model: QuantizedMlp): Uint8Array {
  const b = new GraphBuilder('quantized_mlp')
  let h = b.input('input', 'float64', ['batch', model.inputSize])
  const divisor = b.constant([2 ** model.scaleBits], 'float64')
  model.layers.forEach((layer, i) => {
    const weight = new Float64Array(layer.inFeatures * layer.outFeatures)
    layer.weights.forEach((row, o) => {
      row.forEach((w, j) => {
        weight[j * layer.outFeatures + o] = Number(w)
      })
    })
    const w = b.initializer(`layer${i}.weight`, 'float64', [layer.inFeatures, layer.outFeatures], weight)
    const bias = b.initializer(
      `layer${i}.bias`,
      'float64',
      [layer.outFeatures],
      Float64Array.from(layer.bias, Number),
    )
    h = b.op('Floor', [b.op('Div', [b.op('Add', [b.op('MatMul', [h, w]), bias]), divisor])])
    if (layer.relu) h = b.op('Relu', [h])
  })
  b.output(h, 'float64', ['batch', model.outputSize], 'output')
  return encodeOnnxModel(b.build())
}

/** Runs a float64 or float32 single-input model in ONNX Runtime on a batch. */
export async function runOrt(
  bytes: Uint8Array,
  inputs: readonly (readonly number[])[],
  type: 'float64' | 'float32',
): Promise<number[][]> {
  const session = await ort.InferenceSession.create(bytes)
  try {
    const width = inputs[0]!.length
    const flat = inputs.flat()
    const data = type === 'float64' ? Float64Array.from(flat) : Float32Array.from(flat)
    const feeds = { [session.inputNames[0]!]: new ort.Tensor(type, data, [inputs.length, width]) }
    const out = (await session.run(feeds))[session.outputNames[0]!]!
    const values = Array.from(out.data as Float64Array | Float32Array)
    const cols = values.length / inputs.length
    return inputs.map((_, i) => values.slice(i * cols, (i + 1) * cols))
  } finally {
    await session.release()
  }
}
