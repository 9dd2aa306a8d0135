import { encodeOnnxModel } from '@ocn/prover'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import {
  buildTrainingStepModel,
  type LossName,
  type OptimizerSpec,
  paramNames,
} from '../../src/executor/index.js'
import { lcg } from './helpers.js'

type Act = 'relu' | 'tanh' | 'gelu'

/** erf to double precision for |x| < 6 (Taylor series; plenty of terms for test inputs). */
function erf(x: number): number {
  if (Math.abs(x) > 5.5) return Math.sign(x)
  let sum = 0
  let term = x
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1)
    term *= (-x * x) / (n + 1)
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break
  }
  return (2 / Math.sqrt(Math.PI)) * sum
}

const act = (a: Act, z: number) =>
  a === 'relu' ? Math.max(0, z) : a === 'tanh' ? Math.tanh(z) : 0.5 * z * (1 + erf(z / Math.SQRT2))

/** float64 forward pass and loss, as documented in training/graph.ts */
function lossOf(
  sizes: number[],
  a: Act,
  loss: LossName,
  params: Float64Array[],
  x: number[][],
  y: number[] | number[][],
): number {
  let total = 0
  for (let b = 0; b < x.length; b++) {
    let h = x[b]!
    for (let l = 0; l < sizes.length - 1; l++) {
      const W = params[2 * l]!
      const bias = params[2 * l + 1]!
      const out: number[] = []
      for (let o = 0; o < sizes[l + 1]!; o++) {
        let s = bias[o]!
        for (let i = 0; i < sizes[l]!; i++) s += h[i]! * W[i * sizes[l + 1]! + o]!
        out.push(l === sizes.length - 2 ? s : act(a, s))
      }
      h = out
    }
    if (loss === 'softmax-cross-entropy') {
      const m = Math.max(...h)
      const lse = m + Math.log(h.reduce((s, v) => s + Math.exp(v - m), 0))
      total += lse - h[(y as number[])[b]!]!
    } else {
      const t = (y as number[][])[b]!
      total += h.reduce((s, v, i) => s + (v - t[i]!) ** 2, 0) / h.length
    }
  }
  return total / x.length
}

describe('training-step gradients', () => {
  const sizes = [4, 7, 5, 3]
  const batch = 6
  const cases: [Act, LossName][] = [
    ['relu', 'softmax-cross-entropy'],
    ['tanh', 'mse'],
    ['gelu', 'softmax-cross-entropy'],
    ['gelu', 'mse'],
  ]
  for (const [activation, loss] of cases) {
    it(`match a float64 finite-difference reference (${activation}, ${loss})`, async () => {
      const r = lcg(11)
      const layers = sizes.slice(1).map((out, i) => ({
        inFeatures: sizes[i]!,
        outFeatures: out,
        activation: i === sizes.length - 2 ? ('none' as const) : activation,
      }))
      const optimizer: OptimizerSpec = { type: 'sgd', learningRate: 0.1, momentum: 0.9 }
      const model = buildTrainingStepModel({ layers, loss, optimizer, emitGradients: true })
      const session = await ort.InferenceSession.create(encodeOnnxModel(model), { intraOpNumThreads: 1 })
      const params = paramNames(layers.length).map((_, k) => {
        const l = layers[k >> 1]!
        const n = k % 2 === 0 ? l.inFeatures * l.outFeatures : l.outFeatures
        return Float32Array.from({ length: n }, () => r() * 1.2)
      })
      const x = Array.from({ length: batch }, () => Array.from({ length: sizes[0]! }, () => r() * 2))
      const y =
        loss === 'softmax-cross-entropy'
          ? Array.from({ length: batch }, (_, i) => i % 3)
          : Array.from({ length: batch }, () => Array.from({ length: 3 }, () => r()))
      const feeds: Record<string, ort.Tensor> = {
        x: new ort.Tensor('float32', Float32Array.from(x.flat()), [batch, sizes[0]!]),
        y:
          loss === 'softmax-cross-entropy'
            ? new ort.Tensor('int64', BigInt64Array.from((y as number[]).map(BigInt)), [batch])
            : new ort.Tensor('float32', Float32Array.from((y as number[][]).flat()), [batch, 3]),
      }
      paramNames(layers.length).forEach((p, k) => {
        const l = layers[k >> 1]!
        const dims = k % 2 === 0 ? [l.inFeatures, l.outFeatures] : [l.outFeatures]
        feeds[p] = new ort.Tensor('float32', params[k]!, dims)
        feeds[`${p}.velocity`] = new ort.Tensor('float32', new Float32Array(params[k]!.length), dims)
      })
      const out = await session.run(feeds)
      const p64 = params.map((p) => Float64Array.from(p))
      const l64 = lossOf(sizes, activation, loss, p64, x, y)
      expect((out.loss!.data as Float32Array)[0]).toBeCloseTo(l64, 5)
      let maxErr = 0
      let maxRef = 0
      paramNames(layers.length).forEach((p, k) => {
        const got = out[`grad.${p}`]!.data as Float32Array
        for (let i = 0; i < got.length; i++) {
          const h = 1e-6
          const save = p64[k]![i]!
          p64[k]![i] = save + h
          const up = lossOf(sizes, activation, loss, p64, x, y)
          p64[k]![i] = save - h
          const down = lossOf(sizes, activation, loss, p64, x, y)
          p64[k]![i] = save
          const ref = (up - down) / (2 * h)
          maxErr = Math.max(maxErr, Math.abs(got[i]! - ref))
          maxRef = Math.max(maxRef, Math.abs(ref))
        }
        // SGD with momentum from zero velocity: v' = g, p' = p - lr g
        const next = out[`next.${p}`]!.data as Float32Array
        for (let i = 0; i < got.length; i++) expect(next[i]).toBeCloseTo(params[k]![i]! - 0.1 * got[i]!, 5)
      })
      expect(maxRef).toBeGreaterThan(1e-3)
      expect(maxErr / maxRef).toBeLessThan(2e-4)
      await session.release()
    })
  }
})
