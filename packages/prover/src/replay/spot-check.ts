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
  /** the verifier's private sample seed (privateSampleSeed): 32 bytes the provider cannot know */
  randomness: Hex | Uint8Array
  /** the committed Merkle root */
  root: Hex
  /** the number of leaves the job's terms fix (never the provider's own count) */
  leafCount: number
  /** how many items to re-execute */
  samples: number
  /**
   * the provider's leaf claims (from its result bundle or over the network); undefined, or a
   * throw, when the provider did not serve the leaf: that is a `not-served` mismatch
   */
  claim: (index: number) => Promise<LeafClaim | undefined> | LeafClaim | undefined
  executor: ReplayExecutor
  /** for the report: the fraction of cheated items the check is sized against (default 1 item) */
  assumedCheatedFraction?: number
  signal?: AbortSignal
}

export type SpotCheckMismatch =
  | { index: number; reason: 'not-served'; error: string }
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
  const { leafCount, signal } = params
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
    const claim = await servedClaim(params, index)
    if ('error' in claim) {
      mismatches.push({ index, reason: 'not-served', error: claim.error })
      continue
    }
    if (!provesAgainst(params.root, index, claim)) {
      mismatches.push({ index, reason: 'bad-proof', claimed: claim.dataHash })
      continue
    }
    const started = performance.now()
    try {
      const mismatch = await replayAndCompare(params, index, claim.dataHash)
      if (mismatch !== undefined) mismatches.push(mismatch)
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

/** The provider's claim for `index`, or why there is none (a claim source that throws serves nothing). */
async function servedClaim(
  params: SpotCheckParameters,
  index: number,
): Promise<LeafClaim | { error: string }> {
  try {
    const claim = await params.claim(index)
    return claim ?? { error: `leaf ${index} not served` }
  } catch (error) {
    return { error: `leaf ${index} not served: ${String(error)}` }
  }
}

/** Whether a claim opens the committed root; a malformed claim (bad hex, bad proof shape) does not. */
function provesAgainst(root: Hex, index: number, claim: LeafClaim): boolean {
  try {
    return verifyMerkleProof(root, merkleLeaf(index, claim.dataHash), claim.proof)
  } catch {
    return false
  }
}

/** Re-executes item `index` and compares it with the provider's data hash (undefined: they agree). */
async function replayAndCompare(
  params: SpotCheckParameters,
  index: number,
  claimed: Hex,
): Promise<SpotCheckMismatch | undefined> {
  const { executor, signal } = params
  const opts = signal ? { signal } : {}
  if (params.kind === 'inference' && executor.matchesMicroBatch) {
    const { match, replayed } = await executor.matchesMicroBatch(index, claimed, opts)
    return match ? undefined : { index, reason: 'different-result', claimed, replayed }
  }
  const replayed =
    params.kind === 'inference'
      ? await executor.runMicroBatch(index, opts)
      : await executor.runTrainingSegment(index, opts)
  if (replayed.toLowerCase() === claimed.toLowerCase()) return undefined
  return { index, reason: 'different-result', claimed, replayed }
}

/** Provider side: the claim for an index from its own tree and data hashes. */
export function leafClaimFrom(tree: MerkleTree, dataHashes: readonly Hex[], index: number): LeafClaim {
  const dataHash = dataHashes[index]
  if (dataHash === undefined) throw new ReplayError('REPLAY_INVALID_ARGUMENT', `no item ${index}`)
  return { dataHash, proof: tree.proof(index) }
}
