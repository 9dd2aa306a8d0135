import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Mlp } from '@ocn/prover'
import {
  cpuReplayProfile,
  createExecutor,
  type ExecutorOptions,
  type NamedTensors,
  ortVersion,
  parseJobSpec,
  type ReplayProfile,
  type TrainingJobSpec,
} from '../../src/executor/index.js'

/** Tests run the TypeScript sources, but workers must start from compiled JavaScript. */
export const workerUrl = new URL('../../dist/executor/worker.js', import.meta.url)
if (!existsSync(fileURLToPath(workerUrl))) {
  throw new Error(
    'build @ocn/node first (npx tsc -p packages/node/tsconfig.json): the executor worker runs from dist',
  )
}

export function testExecutor(options: Partial<ExecutorOptions> = {}) {
  return createExecutor({ workerUrl, options: { poolSize: 2, ...options } })
}

export function profile(microBatchSize: number, overrides: Partial<ReplayProfile> = {}): ReplayProfile {
  return { ...cpuReplayProfile(ortVersion(), microBatchSize), ...overrides }
}

/** A tiny deterministic generator for test data (not the protocol's PRNG). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

export function randomMlp(sizes: number[], activation: 'relu' | 'tanh', seed = 1): Mlp {
  const r = lcg(seed)
  return {
    layers: sizes.slice(1).map((out, i) => ({
      inFeatures: sizes[i]!,
      outFeatures: out,
      weight: Float32Array.from({ length: sizes[i]! * out }, r),
      bias: Float32Array.from({ length: out }, r),
      activation: i === sizes.length - 2 ? 'none' : activation,
    })),
    softmaxOutput: false,
  }
}

export function referenceMlp(mlp: Mlp, x: Float32Array, batch: number): Float64Array {
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

export function f32(dims: number[], values: ArrayLike<number>) {
  const a = Float32Array.from(values)
  return { dtype: 'float32' as const, dims, data: new Uint8Array(a.buffer) }
}

/** Three Gaussian blobs in 2-D, well separated: a net should classify >= 95% correctly. */
export function blobs(n: number, seed = 5): NamedTensors {
  const r = lcg(seed)
  const centers = [
    [2, 0],
    [-1, 1.8],
    [-1, -1.8],
  ]
  const x: number[] = []
  const y: bigint[] = []
  for (let i = 0; i < n; i++) {
    const c = i % 3
    x.push(centers[c]![0]! + r() * 1.6, centers[c]![1]! + r() * 1.6)
    y.push(BigInt(c))
  }
  return {
    x: f32([n, 2], x),
    y: { dtype: 'int64', dims: [n], data: new Uint8Array(BigInt64Array.from(y).buffer) },
  }
}

export function classifierSpec(overrides: Partial<TrainingJobSpec> = {}): TrainingJobSpec {
  return parseJobSpec({
    kind: 'training',
    profile: profile(32, { weightsSupply: 'feeds' }),
    model: { architecture: { inputFeatures: 2, hiddenLayers: [16, 16], outputs: 3, activation: 'tanh' } },
    loss: 'softmax-cross-entropy',
    optimizer: { type: 'adam', learningRate: 0.02 },
    batchSize: 32,
    epochs: 8,
    seed: 'blobs-1',
    checkpointInterval: 10,
    ...overrides,
  }) as TrainingJobSpec
}
