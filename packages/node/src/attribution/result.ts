/**
 * The committed attribution result and its canonical hash. Pure (no ONNX Runtime): a
 * verifier recomputes the scores, then checks weights, root and hash with these functions.
 */
import {
  type AttributionWeight,
  attributionWeightsTree,
  type DatanetManifest,
  scoresToBasisPoints,
} from '@ocn/protocol'
import { bytesToHex, encodeAbiParameters, type Hex, keccak256, stringToHex } from 'viem'
import type { AttributionMethodName } from './method.js'

export interface AttributionResult {
  method: AttributionMethodName
  /** datanetManifestHash of the manifest the contributors come from */
  manifestHash: Hex
  /** hash of the validation tensors (domain ocn/attribution/validation/v1) */
  validationHash: Hex
  /** the training job's checkpoint hashes the gradients were taken at (all of them, in order) */
  checkpointHashes: Hex[]
  /** raw influence per contributor, manifest order (float64; JSON round-trips them exactly) */
  scores: number[]
  /** basis points per contributor, manifest order, summing to 10000 */
  weights: AttributionWeight[]
  /** Merkle root over attributionLeaf(i, address, weight): what AttributionPool.setWeights takes */
  weightsRoot: Hex
  /** canonical hash of everything above */
  resultHash: Hex
}

/** Scores as big-endian float64s: the exact bits, so the hash pins them. */
function scoreBytes(scores: readonly number[]): Hex {
  const out = new Uint8Array(scores.length * 8)
  const view = new DataView(out.buffer)
  for (const [i, s] of scores.entries()) view.setFloat64(i * 8, s, false)
  return bytesToHex(out)
}

export function attributionResultHash(r: Omit<AttributionResult, 'resultHash'>): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32[]' },
        { type: 'bytes' },
        {
          type: 'tuple[]',
          components: [
            { name: 'account', type: 'address' },
            { name: 'weight', type: 'uint256' },
          ],
        },
        { type: 'bytes32' },
      ],
      [
        keccak256(stringToHex('ocn/attribution/v1')),
        keccak256(stringToHex(r.method)),
        r.manifestHash,
        r.validationHash,
        r.checkpointHashes,
        scoreBytes(r.scores),
        r.weights.map((w) => ({ account: w.address, weight: BigInt(w.weight) })),
        r.weightsRoot,
      ],
    ),
  )
}

/** Builds the committed result from raw scores: weights, claim-tree root, hash. */
export function buildAttributionResult(params: {
  method: AttributionMethodName
  manifest: DatanetManifest
  manifestHash: Hex
  validationHash: Hex
  checkpointHashes: Hex[]
  scores: number[]
}): AttributionResult {
  const { method, manifest, manifestHash, validationHash, checkpointHashes, scores } = params
  const weights = scoresToBasisPoints(scores).map((weight, i) => ({
    address: manifest.contributors[i]!.address,
    weight,
  }))
  const weightsRoot = attributionWeightsTree(weights).root
  const body = { method, manifestHash, validationHash, checkpointHashes, scores, weights, weightsRoot }
  return { ...body, resultHash: attributionResultHash(body) }
}

/** Claim data for contributor `index`: what AttributionPool.claim takes besides the round. */
export function attributionClaim(result: AttributionResult, index: number) {
  const w = result.weights[index]
  if (!w) throw new RangeError(`contributor ${index} is outside 0..${result.weights.length - 1}`)
  return {
    index,
    account: w.address,
    weight: w.weight,
    proof: attributionWeightsTree(result.weights).proof(index),
  }
}
