/**
 * Datanets: datasets assembled from several contributors, and the attribution weights that
 * route part of every inference fee back to them.
 *
 * A lineage manifest says which rows of a dataset each contributor supplied and the content
 * hash of the data they supplied, so a contributor can check their data is counted and a
 * verifier can re-run attribution on exactly the same split. Its canonical hash is keccak256
 * of an ABI encoding (so a contract could recompute it); the manifest is validated before use.
 *
 * Attribution weights are integer basis points summing to exactly ATTRIBUTION_WEIGHT_TOTAL.
 * They are committed as a Merkle tree whose leaf i is
 * `merkleLeaf(i, keccak256(abi.encode(address contributor, uint256 weight)))`, the leaf
 * `AttributionPool.claim` checks on-chain.
 */
import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  isAddress,
  keccak256,
  stringToHex,
} from 'viem'
import { parseContentHash } from './content.js'
import { ProtocolError, ProtocolErrorCode } from './errors.js'
import { MerkleTree, merkleLeaf } from './merkle.js'

/** Weights are basis points: every weights vector sums to exactly this. */
export const ATTRIBUTION_WEIGHT_TOTAL = 10_000
/** Upper bound on contributors per datanet (keeps manifests and claim trees small). */
export const MAX_DATANET_CONTRIBUTORS = 4096
export const DATANET_MANIFEST_VERSION = 1

/** Rows [start, end) of the dataset, 0-based. */
export interface SampleRange {
  start: number
  end: number
}

export interface DatanetContributor {
  /** where this contributor's share of attribution fees is paid */
  address: Address
  /** content hash (SHA-256) of the data this contributor supplied */
  dataHash: Hex
  /** the dataset rows that are this contributor's data; sorted, non-overlapping */
  ranges: SampleRange[]
}

export interface DatanetManifest {
  version: typeof DATANET_MANIFEST_VERSION
  /** content hash of the assembled dataset file the training job reads */
  datasetId: Hex
  /** rows in the dataset */
  rows: number
  contributors: DatanetContributor[]
}

export interface AttributionWeight {
  address: Address
  /** basis points of ATTRIBUTION_WEIGHT_TOTAL */
  weight: number
}

function invalid(what: string, details?: string): never {
  throw new ProtocolError(
    ProtocolErrorCode.INVALID_VALUE,
    `datanet manifest: ${what}`,
    details === undefined ? {} : { details },
  )
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(`${path} must be an object`)
  return v as Record<string, unknown>
}

function onlyKeys(o: Record<string, unknown>, path: string, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) invalid(`${path}.${k} is not a known field`)
}

function rowIndex(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) invalid(`${path} must be a row index`)
  return v
}

/**
 * Validates an untrusted manifest (e.g. parsed JSON) and returns it normalized (checksummed
 * addresses, lowercase hashes). Rejects duplicate contributors, empty or out-of-range
 * ranges, and any row claimed twice (by one contributor or two).
 */
export function parseDatanetManifest(value: unknown): DatanetManifest {
  const o = obj(value, 'manifest')
  onlyKeys(o, 'manifest', ['version', 'datasetId', 'rows', 'contributors'])
  if (o.version !== DATANET_MANIFEST_VERSION) invalid(`version must be ${DATANET_MANIFEST_VERSION}`)
  let datasetId: Hex
  try {
    datasetId = parseContentHash(o.datasetId)
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_VALUE, 'datanet manifest: datasetId is not a hash', {
      cause,
    })
  }
  const rows = rowIndex(o.rows, 'rows')
  if (rows === 0) invalid('rows must be at least 1')
  if (!Array.isArray(o.contributors) || o.contributors.length === 0) {
    invalid('contributors must be a non-empty array')
  }
  if (o.contributors.length > MAX_DATANET_CONTRIBUTORS) {
    invalid(`at most ${MAX_DATANET_CONTRIBUTORS} contributors`, `got ${o.contributors.length}`)
  }
  const seen = new Set<string>()
  const spans: { start: number; end: number; who: number }[] = []
  const contributors = o.contributors.map((c: unknown, i: number): DatanetContributor => {
    const path = `contributors[${i}]`
    const co = obj(c, path)
    onlyKeys(co, path, ['address', 'dataHash', 'ranges'])
    if (typeof co.address !== 'string' || !isAddress(co.address, { strict: false })) {
      invalid(`${path}.address is not an address`)
    }
    const address = getAddress(co.address)
    if (seen.has(address)) invalid(`${path}.address ${address} appears twice`)
    seen.add(address)
    let dataHash: Hex
    try {
      dataHash = parseContentHash(co.dataHash)
    } catch (cause) {
      throw new ProtocolError(ProtocolErrorCode.INVALID_VALUE, `datanet manifest: ${path}.dataHash`, {
        cause,
      })
    }
    if (!Array.isArray(co.ranges) || co.ranges.length === 0) invalid(`${path}.ranges must be non-empty`)
    const ranges = co.ranges.map((r: unknown, j: number): SampleRange => {
      const rp = `${path}.ranges[${j}]`
      const ro = obj(r, rp)
      onlyKeys(ro, rp, ['start', 'end'])
      const start = rowIndex(ro.start, `${rp}.start`)
      const end = rowIndex(ro.end, `${rp}.end`)
      if (end <= start) invalid(`${rp} is empty (end must exceed start)`)
      if (end > rows) invalid(`${rp} ends past row ${rows}`)
      spans.push({ start, end, who: i })
      return { start, end }
    })
    for (let j = 1; j < ranges.length; j++) {
      if (ranges[j]!.start < ranges[j - 1]!.end) invalid(`${path}.ranges must be sorted and disjoint`)
    }
    return { address, dataHash, ranges }
  })
  spans.sort((a, b) => a.start - b.start)
  for (let j = 1; j < spans.length; j++) {
    if (spans[j]!.start < spans[j - 1]!.end) {
      invalid(
        'a row belongs to two contributors',
        `contributors ${spans[j - 1]!.who} and ${spans[j]!.who} overlap at row ${spans[j]!.start}`,
      )
    }
  }
  return { version: DATANET_MANIFEST_VERSION, datasetId, rows, contributors }
}

/** Number of rows a contributor supplied. */
export function contributorRowCount(c: DatanetContributor): number {
  return c.ranges.reduce((n, r) => n + (r.end - r.start), 0)
}

/** The rows of a contributor, in manifest order. */
export function contributorRows(c: DatanetContributor): Uint32Array {
  const out = new Uint32Array(contributorRowCount(c))
  let k = 0
  for (const r of c.ranges) for (let i = r.start; i < r.end; i++) out[k++] = i
  return out
}

const MANIFEST_ABI = [
  { type: 'bytes32' },
  { type: 'uint256' },
  { type: 'bytes32' },
  { type: 'uint256' },
  {
    type: 'tuple[]',
    components: [
      { name: 'account', type: 'address' },
      { name: 'dataHash', type: 'bytes32' },
      {
        name: 'ranges',
        type: 'tuple[]',
        components: [
          { name: 'start', type: 'uint256' },
          { name: 'end', type: 'uint256' },
        ],
      },
    ],
  },
] as const

/**
 * keccak256(abi.encode(keccak256("ocn/datanet/v1"), version, datasetId, rows,
 * (address, bytes32, (uint256, uint256)[])[])) of a validated manifest.
 */
export function datanetManifestHash(manifest: DatanetManifest): Hex {
  return keccak256(
    encodeAbiParameters(MANIFEST_ABI, [
      keccak256(stringToHex('ocn/datanet/v1')),
      BigInt(manifest.version),
      manifest.datasetId,
      BigInt(manifest.rows),
      manifest.contributors.map((c) => ({
        account: c.address,
        dataHash: c.dataHash,
        ranges: c.ranges.map((r) => ({ start: BigInt(r.start), end: BigInt(r.end) })),
      })),
    ]),
  )
}

/** The Merkle leaf of contributor `index`: merkleLeaf(index, keccak256(abi.encode(address, weight))). */
export function attributionLeaf(index: number, address: Address, weight: number | bigint): Hex {
  return merkleLeaf(
    index,
    keccak256(encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [address, BigInt(weight)])),
  )
}

/** The claim tree over a weights vector (checks it sums to ATTRIBUTION_WEIGHT_TOTAL). */
export function attributionWeightsTree(weights: readonly AttributionWeight[]): MerkleTree {
  assertWeights(weights)
  return MerkleTree.fromLeaves(weights.map((w, i) => attributionLeaf(i, w.address, w.weight)))
}

export function assertWeights(weights: readonly AttributionWeight[]): void {
  if (weights.length === 0) invalid('attribution weights are empty')
  let sum = 0
  for (const w of weights) {
    if (!Number.isSafeInteger(w.weight) || w.weight < 0)
      invalid(`weight ${w.weight} is not a basis-point count`)
    sum += w.weight
  }
  if (sum !== ATTRIBUTION_WEIGHT_TOTAL) {
    invalid(`attribution weights sum to ${sum}`, `they must sum to exactly ${ATTRIBUTION_WEIGHT_TOTAL}`)
  }
}

/** Fractional bits kept of each score relative to the largest before splitting (see below). */
const SCORE_BITS = 40n

/**
 * Turns influence scores into basis points summing to exactly ATTRIBUTION_WEIGHT_TOTAL,
 * deterministically on every platform:
 *  - a negative (harmful) or non-finite score counts as 0;
 *  - each score is quantized to an integer q_i = floor(s_i / max_j s_j * 2^40), so the rest is
 *    exact integer arithmetic;
 *  - weight_i = floor(q_i * 10000 / sum q); the basis points left over go one each to the
 *    largest remainders, ties to the lower index (largest-remainder method);
 *  - if no score is positive, every contributor gets an equal split (remainder to the first).
 */
export function scoresToBasisPoints(scores: readonly number[]): number[] {
  if (scores.length === 0) invalid('no scores to split')
  const clamped = scores.map((s) => (Number.isFinite(s) && s > 0 ? s : 0))
  const max = clamped.reduce((a, b) => Math.max(a, b), 0)
  const total = BigInt(ATTRIBUTION_WEIGHT_TOTAL)
  const q =
    max > 0
      ? clamped.map((s) => BigInt(Math.floor((s / max) * 2 ** Number(SCORE_BITS))))
      : clamped.map(() => 1n)
  const sum = q.reduce((a, b) => a + b, 0n)
  const weights = q.map((x) => (x * total) / sum)
  const remainders = q.map((x, i) => ({ i, r: (x * total) % sum }))
  let left = total - weights.reduce((a, b) => a + b, 0n)
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1))
  for (let k = 0; left > 0n; k++, left--) {
    const i = remainders[k % remainders.length]!.i
    weights[i] = weights[i]! + 1n
  }
  return weights.map(Number)
}
