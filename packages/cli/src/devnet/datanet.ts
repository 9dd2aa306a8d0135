/**
 * A tiny datanet for the devnet's attribution phase and the attribution e2e test, generated
 * on the spot: three contributors each supply rows of 2-D blobs of three classes; the
 * contributors listed in `noisy` supply uniformly random labels instead (label noise). One
 * dataset file holds the training rows (`x`, `y`) and a clean held-out validation set
 * (`x_val`, `y_val`); the manifest names each contributor's rows and content hash.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeSafetensors, gatherRows, type HostTensor, type NamedTensors } from '@ocn/node'
import { contentHashOf, type DatanetManifest, parseDatanetManifest } from '@ocn/protocol'
import type { Address } from 'viem'
import { seeded } from './workload.js'

export interface DatanetFixtureOptions {
  /** one payout address per contributor, in manifest order */
  contributors: readonly Address[]
  /** indices of contributors whose labels are random */
  noisy: readonly number[]
  rowsPerContributor?: number
  validationRows?: number
  seed?: number
  /** the spec's attribution method (default tracin-cp-v1) */
  method?: 'tracin-cp-v1' | 'knn-shapley-v1'
}

export interface DatanetFixture {
  inputsPath: string
  manifestPath: string
  trainingSpecPath: string
  manifest: DatanetManifest
  /** the training spec as written (its attribution.manifest is the manifest file's hash) */
  spec: Record<string, unknown>
}

const CENTRES = [
  [2, 0],
  [-1, 1.8],
  [-1, -1.8],
] as const

function blobs(n: number, random: () => number, noisy: boolean): { x: number[]; y: bigint[] } {
  const x: number[] = []
  const y: bigint[] = []
  for (let i = 0; i < n; i++) {
    const c = i % 3
    x.push(CENTRES[c]![0] + (random() - 0.5) * 1.6, CENTRES[c]![1] + (random() - 0.5) * 1.6)
    y.push(BigInt(noisy ? Math.floor(random() * 3) % 3 : c))
  }
  return { x, y }
}

function tensors(parts: { x: number[]; y: bigint[] }[]): { x: HostTensor; y: HostTensor } {
  const x = Float32Array.from(parts.flatMap((p) => p.x))
  const y = BigInt64Array.from(parts.flatMap((p) => p.y))
  return {
    x: { dtype: 'float32', dims: [y.length, 2], data: new Uint8Array(x.buffer) },
    y: { dtype: 'int64', dims: [y.length], data: new Uint8Array(y.buffer) },
  }
}

/** Writes datanet.safetensors, datanet-manifest.json and datanet-training.json into `dir`. */
export async function writeDatanetFixture(
  dir: string,
  options: DatanetFixtureOptions,
): Promise<DatanetFixture> {
  const per = options.rowsPerContributor ?? 40
  const random = seeded(options.seed ?? 2026)
  const parts = options.contributors.map((_a, i) => blobs(per, random, options.noisy.includes(i)))
  const training = tensors(parts)
  const validation = tensors([blobs(options.validationRows ?? 60, random, false)])
  const dataset: NamedTensors = { ...training, x_val: validation.x, y_val: validation.y }
  // the requester re-encodes the file canonically; this writer is that encoding, so the
  // manifest's datasetId is the job's inputHash
  const datasetBytes = encodeSafetensors(dataset)
  const inputsPath = join(dir, 'datanet.safetensors')
  await writeFile(inputsPath, datasetBytes)
  const manifest = parseDatanetManifest({
    version: 1,
    datasetId: contentHashOf(datasetBytes),
    rows: per * options.contributors.length,
    contributors: options.contributors.map((address, i) => {
      const rows = Array.from({ length: per }, (_v, k) => i * per + k)
      const own = { x: gatherRows(training.x, rows), y: gatherRows(training.y, rows) }
      return {
        address,
        dataHash: contentHashOf(encodeSafetensors(own)),
        ranges: [{ start: i * per, end: (i + 1) * per }],
      }
    }),
  })
  const manifestBytes = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)
  const manifestPath = join(dir, 'datanet-manifest.json')
  await writeFile(manifestPath, manifestBytes)
  const spec = {
    kind: 'training',
    model: { architecture: { inputFeatures: 2, hiddenLayers: [8], outputs: 3, activation: 'tanh' } },
    loss: 'softmax-cross-entropy',
    optimizer: { type: 'adam', learningRate: 0.05, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    batchSize: 16,
    epochs: 3,
    seed: 'datanet-1',
    checkpointInterval: 8,
    data: { features: 'x', targets: 'y' },
    attribution: {
      method: options.method ?? 'tracin-cp-v1',
      manifest: contentHashOf(manifestBytes),
      validation: { features: 'x_val', targets: 'y_val' },
    },
  }
  const trainingSpecPath = join(dir, 'datanet-training.json')
  await writeFile(trainingSpecPath, `${JSON.stringify(spec, null, 2)}\n`)
  return { inputsPath, manifestPath, trainingSpecPath, manifest, spec }
}
