/**
 * The devnet's workload, generated at start (nothing is downloaded or shipped): a small
 * classifier MLP built with @ocn/prover's ONNX builder, inference inputs as safetensors, a
 * training job (spec + dataset) for a small MLP on separable clusters, and optionally generate
 * jobs on a GPT-style decoder and a stateful sequence job (workload-generation.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { HostTensor } from '@ocn/node'
import { writeTensorFile } from '@ocn/node'
import { buildMlpModel, encodeOnnxModel, type Mlp } from '@ocn/prover'
import { writeGenerateJobs, writeSequenceJob } from './workload-generation.js'
import type { WorkloadJob } from './workload-job.js'

export type { WorkloadJob }

export const WORKLOAD_FEATURES = 4
export const WORKLOAD_CLASSES = 3

export interface Workload {
  dir: string
  modelPath: string
  jobs: WorkloadJob[]
}

/** mulberry32: a tiny seeded generator; the workload only needs to be reproducible, not secret. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function float32Tensor(dims: number[], values: Float32Array): HostTensor {
  return { dtype: 'float32', dims, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }
}

function int64Tensor(values: number[]): HostTensor {
  const data = new BigInt64Array(values.map((v) => BigInt(v)))
  return { dtype: 'int64', dims: [values.length], data: new Uint8Array(data.buffer) }
}

function randomMatrix(random: () => number, rows: number, cols: number, scale: number): Float32Array {
  const out = new Float32Array(rows * cols)
  for (let i = 0; i < out.length; i++) out[i] = (random() * 2 - 1) * scale
  return out
}

/**
 * A 4-16-3 ReLU classifier, with a softmax output unless `softmaxOutput: false`: the zk phase
 * proves the plain MLP (the circuit computes logits; softmax would need lookup tables and
 * changes no argmax). The weights are the same either way.
 */
export function workloadMlp(seed = 1, options: { softmaxOutput?: boolean } = {}): Mlp {
  const random = seeded(seed)
  const hidden = 16
  return {
    layers: [
      {
        inFeatures: WORKLOAD_FEATURES,
        outFeatures: hidden,
        weight: randomMatrix(random, WORKLOAD_FEATURES, hidden, Math.sqrt(6 / WORKLOAD_FEATURES)),
        bias: randomMatrix(random, 1, hidden, 0.1),
        activation: 'relu',
      },
      {
        inFeatures: hidden,
        outFeatures: WORKLOAD_CLASSES,
        weight: randomMatrix(random, hidden, WORKLOAD_CLASSES, Math.sqrt(6 / (hidden + WORKLOAD_CLASSES))),
        bias: randomMatrix(random, 1, WORKLOAD_CLASSES, 0.1),
        activation: 'none',
      },
    ],
    softmaxOutput: options.softmaxOutput ?? true,
  }
}

/** Rows of `features` floats around one of `classes` cluster centres; labels are the cluster. */
function clusters(random: () => number, rows: number): { x: Float32Array; y: number[] } {
  const centres = randomMatrix(random, WORKLOAD_CLASSES, WORKLOAD_FEATURES, 2)
  const x = new Float32Array(rows * WORKLOAD_FEATURES)
  const y: number[] = []
  for (let r = 0; r < rows; r++) {
    const label = r % WORKLOAD_CLASSES
    y.push(label)
    for (let f = 0; f < WORKLOAD_FEATURES; f++) {
      x[r * WORKLOAD_FEATURES + f] = centres[label * WORKLOAD_FEATURES + f]! + (random() * 2 - 1) * 0.5
    }
  }
  return { x, y }
}

export interface CreateWorkloadOptions {
  inferenceJobs: number
  trainingJob: boolean
  samplesPerJob: number
  microBatchSize: number
  seed?: number
  /** Two generate jobs on a GPT-style decoder (the first opens with the cheater); none when unset. */
  generateJobs?: boolean
  /** A stateful sequence job (state batch on axis 1, a scalar input); none when unset. */
  sequenceJob?: boolean
}

/** Writes the model, one inputs file per inference job, and the training job's spec and data. */
export async function createWorkload(dir: string, options: CreateWorkloadOptions): Promise<Workload> {
  await mkdir(dir, { recursive: true })
  const seed = options.seed ?? 1
  const modelPath = join(dir, 'classifier.onnx')
  await writeFile(modelPath, encodeOnnxModel(buildMlpModel(workloadMlp(seed))))
  const random = seeded(seed + 1)
  const jobs: WorkloadJob[] = []
  for (let i = 0; i < options.inferenceJobs; i++) {
    const inputsPath = join(dir, `inputs-${i + 1}.safetensors`)
    const { x } = clusters(random, options.samplesPerJob)
    await writeTensorFile(inputsPath, { input: float32Tensor([options.samplesPerJob, WORKLOAD_FEATURES], x) })
    jobs.push({
      name: `inference-${i + 1}`,
      kind: 'inference',
      modelPath,
      inputsPath,
      microBatchSize: options.microBatchSize,
    })
  }
  if (options.trainingJob) {
    const rows = 96
    const batchSize = 16
    const { x, y } = clusters(random, rows)
    const dataPath = join(dir, 'training-data.safetensors')
    await writeTensorFile(dataPath, { x: float32Tensor([rows, WORKLOAD_FEATURES], x), y: int64Tensor(y) })
    const spec = {
      kind: 'training',
      profile: {
        ortVersion: '1.30.0',
        graphOptimizationLevel: 'all',
        intraOpThreads: 1,
        interOpThreads: 1,
        microBatchSize: batchSize,
        executionProvider: 'cpu',
        weightsSupply: 'feeds',
        comparison: 'bit-exact',
      },
      model: {
        architecture: {
          inputFeatures: WORKLOAD_FEATURES,
          hiddenLayers: [16],
          outputs: WORKLOAD_CLASSES,
          activation: 'tanh',
        },
      },
      loss: 'softmax-cross-entropy',
      optimizer: { type: 'adam', learningRate: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
      batchSize,
      epochs: 4,
      seed: `devnet-${seed}`,
      checkpointInterval: 4,
      data: { features: 'x', targets: 'y' },
    }
    const trainingSpecPath = join(dir, 'training-spec.json')
    await writeFile(trainingSpecPath, `${JSON.stringify(spec, null, 2)}\n`)
    jobs.push({ name: 'training-1', kind: 'training', modelPath, inputsPath: dataPath, trainingSpecPath })
  }
  if (options.generateJobs === true) jobs.push(...(await writeGenerateJobs(dir, seeded(seed + 2), seed, 2)))
  if (options.sequenceJob === true) jobs.push(await writeSequenceJob(dir, seeded(seed + 3), seed))
  return { dir, modelPath, jobs }
}
