/**
 * A small datanet shared by the in-process attribution tests: three contributors of PER rows
 * of 2-D, 3-class blobs (0 clean, 1 pure label noise, 2 clean) and 45 clean validation rows
 * in the same dataset file (`x_val`, `y_val`), with its lineage manifest.
 */
import { contentHashOf, type DatanetManifest, parseDatanetManifest } from '@ocn/protocol'
import { encodeSafetensors } from '../../src/executor/formats/safetensors.js'
import { gatherRows, type NamedTensors } from '../../src/executor/tensor.js'
import { f32, lcg } from '../executor/helpers.js'

export const PER = 60
const centres = [
  [2, 0],
  [-1, 1.8],
  [-1, -1.8],
]

function blobs(n: number, seed: number, noisy: boolean) {
  const r = lcg(seed)
  const x: number[] = []
  const y: bigint[] = []
  for (let i = 0; i < n; i++) {
    const c = i % 3
    x.push(centres[c]![0]! + r() * 1.6, centres[c]![1]! + r() * 1.6)
    y.push(BigInt(noisy ? Math.floor((r() + 0.5) * 3) % 3 : c))
  }
  return { x, y }
}

function tensors(parts: { x: number[]; y: bigint[] }[]) {
  const y = parts.flatMap((p) => p.y)
  return {
    x: f32(
      [y.length, 2],
      parts.flatMap((p) => p.x),
    ),
    y: { dtype: 'int64' as const, dims: [y.length], data: new Uint8Array(BigInt64Array.from(y).buffer) },
  }
}

// contributor 0 clean, 1 pure label noise, 2 clean; validation rows in the same file
export const training = tensors([blobs(PER, 1, false), blobs(PER, 2, true), blobs(PER, 3, false)])
export const validation = tensors([blobs(45, 9, false)])
export const inputs: NamedTensors = { ...training, x_val: validation.x, y_val: validation.y }
const addresses = [
  '0x1111111111111111111111111111111111111111',
  '0x2222222222222222222222222222222222222222',
  '0x3333333333333333333333333333333333333333',
] as const
export const manifest: DatanetManifest = parseDatanetManifest({
  version: 1,
  datasetId: contentHashOf(encodeSafetensors(inputs)),
  rows: 3 * PER,
  contributors: addresses.map((address, i) => {
    const rows = Array.from({ length: PER }, (_v, k) => i * PER + k)
    return {
      address,
      dataHash: contentHashOf(encodeSafetensors({ x: gatherRows(training.x, rows) })),
      ranges: [{ start: i * PER, end: (i + 1) * PER }],
    }
  }),
})

/** Each contributor's rows, in manifest order. */
export const contributorRowSets = [0, 1, 2].map((i) =>
  Uint32Array.from({ length: PER }, (_v, j) => i * PER + j),
)
