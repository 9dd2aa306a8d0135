/**
 * Spot checks: re-execute the sampled items of a committed job and compare them with the
 * provider's leaves.
 *
 * A leaf is `merkleLeaf(index, dataHash)` (@ocn/protocol). For inference, item i is
 * micro-batch i and dataHash is the hash of its outputs. For training, item i is
 * checkpoint i (item 0 is the initial state) and dataHash is the checkpoint hash; replaying
 * item i >= 1 means running the steps from checkpoint i-1 to i.
 */
import { type MerkleTree, merkleLeaf, verifyMerkleProof } from '@ocn/protocol'
import type { Hex } from 'viem'
import { ReplayError } from './errors.js'
import { detectionProbability, sampleIndices } from './sampling.js'

/** What a verifier needs from an executor: re-run one item and hash it the same way. */
export interface ReplayExecutor {
  /** Hash of micro-batch `index`'s outputs (inference jobs). */
  runMicroBatch(index: number, options?: { signal?: AbortSignal }): Promise<Hex>
  /** Hash of checkpoint `index` after replaying its segment (training jobs). */
  runTrainingSegment(index: number, options?: { signal?: AbortSignal }): Promise<Hex>
  /**
   * For profiles compared within a tolerance (GPU runs), where hashes cannot match: re-run
   * micro-batch `index` and decide whether the provider's claimed outputs (which must hash
   * to `claimed`) are within tolerance. When present, spotCheck uses it for inference.
   */
  matchesMicroBatch?(
    index: number,
    claimed: Hex,
    options?: { signal?: AbortSignal },
  ): Promise<{ match: boolean; replayed: Hex }>
}

/** The provider's answer for one item: its data hash and the Merkle proof of its leaf. */
export interface LeafClaim {
  dataHash: Hex
  proof: readonly Hex[]
}

export interface SpotCheckParameters {
  kind: 'inference' | 'training'
  jobId: string
  /** 32 bytes that did not exist when the provider committed (e.g. a later block hash) */
  randomness: Hex | Uint8Array
  /** the committed Merkle root and its number of leaves */
  root: Hex
  leafCount: number
  /** how many items to re-execute */
  samples: number
  /** the provider's leaf claims (from its result bundle or over the network) */
  claim: (index: number) => Promise<LeafClaim> | LeafClaim
  executor: ReplayExecutor
  /** for the report: the fraction of cheated items the check is sized against (default 1 item) */
  assumedCheatedFraction?: number
  signal?: AbortSignal
}

export type SpotCheckMismatch =
  | { index: number; reason: 'bad-proof'; claimed: Hex }
  | { index: number; reason: 'different-result'; claimed: Hex; replayed: Hex }
  | { index: number; reason: 'replay-failed'; claimed: Hex; error: string }

export interface SpotCheckReport {
  checkedIndices: number[]
  mismatches: SpotCheckMismatch[]
  /** probability that this check catches the assumed amount of cheating */
  detectionProbability: number
  passed: boolean
  /** wall-clock time spent re-executing, in milliseconds */
  costMs: number
}

export async function spotCheck(params: SpotCheckParameters): Promise<SpotCheckReport> {
  const { leafCount, executor, signal } = params
  const indices = sampleIndices(
    params.randomness,
    params.jobId,
    leafCount,
    Math.min(params.samples, leafCount),
  )
  const cheated = Math.max(1, Math.ceil((params.assumedCheatedFraction ?? 0) * leafCount))
  const mismatches: SpotCheckMismatch[] = []
  let costMs = 0
  for (const index of indices) {
    if (signal?.aborted)
      throw new ReplayError('REPLAY_ABORTED', 'spot check aborted', { cause: signal.reason })
    const claim = await params.claim(index)
    if (!verifyMerkleProof(params.root, merkleLeaf(index, claim.dataHash), claim.proof)) {
      mismatches.push({ index, reason: 'bad-proof', claimed: claim.dataHash })
      continue
    }
    const started = performance.now()
    try {
      const opts = signal ? { signal } : {}
      if (params.kind === 'inference' && executor.matchesMicroBatch) {
        const { match, replayed } = await executor.matchesMicroBatch(index, claim.dataHash, opts)
        if (!match) mismatches.push({ index, reason: 'different-result', claimed: claim.dataHash, replayed })
      } else {
        const replayed =
          params.kind === 'inference'
            ? await executor.runMicroBatch(index, opts)
            : await executor.runTrainingSegment(index, opts)
        if (replayed.toLowerCase() !== claim.dataHash.toLowerCase()) {
          mismatches.push({ index, reason: 'different-result', claimed: claim.dataHash, replayed })
        }
      }
    } catch (error) {
      if (signal?.aborted) throw new ReplayError('REPLAY_ABORTED', 'spot check aborted', { cause: error })
      mismatches.push({ index, reason: 'replay-failed', claimed: claim.dataHash, error: String(error) })
    } finally {
      costMs += performance.now() - started
    }
  }
  return {
    checkedIndices: indices,
    mismatches,
    detectionProbability: detectionProbability(leafCount, indices.length, Math.min(cheated, leafCount)),
    passed: mismatches.length === 0,
    costMs,
  }
}

/** Provider side: the claim for an index from its own tree and data hashes. */
export function leafClaimFrom(tree: MerkleTree, dataHashes: readonly Hex[], index: number): LeafClaim {
  const dataHash = dataHashes[index]
  if (dataHash === undefined) throw new ReplayError('REPLAY_INVALID_ARGUMENT', `no item ${index}`)
  return { dataHash, proof: tree.proof(index) }
}
