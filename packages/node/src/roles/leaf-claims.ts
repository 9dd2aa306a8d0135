/**
 * A provider's claimed leaves of a committed job, fetched over the result protocol: what a
 * verifier spot-checks and what a juror rules on. Along with the leaves asked for come
 * the ones their replay reads (leavesNeeded). The result protocol has already checked each
 * leaf's proof against the root the provider serves; whether that root is the one committed
 * on the chain is for the caller to weigh (sameRoot, or provenAgainst for a leaf-by-leaf view).
 */
import type { ResultStatus } from '@ocn/protocol'
import { merkleLeaf, verifyMerkleProof } from '@ocn/protocol'
import type { LeafClaim } from '@ocn/prover'
import type { Hex } from 'viem'
import type { Network } from '../p2p/network.js'
import { attributionIndexOf, type JobAssets, leavesNeeded } from './shared.js'

export interface LeafClaimRequest {
  jobId: Hex
  assets: JobAssets
  /** the leaves to check */
  indices: readonly number[]
  /** the result root the provider committed on the chain */
  committedRoot: Hex
}

/** Why a provider served no leaves: each role words this for its report or ruling. */
export type UnservedLeaves =
  | { reason: 'no-peer' }
  | { reason: 'answered'; status: ResultStatus }
  | { reason: 'failed'; message: string }

export type LeafClaims =
  | {
      served: true
      outputHash: Hex
      /** the provider serves the root it committed */
      sameRoot: boolean
      claims: Map<number, LeafClaim>
    }
  | { served: false; unserved: UnservedLeaves }

export async function fetchLeafClaims(
  network: Pick<Network, 'results'>,
  providerPeer: string | undefined,
  request: LeafClaimRequest,
): Promise<LeafClaims> {
  if (providerPeer === undefined) return { served: false, unserved: { reason: 'no-peer' } }
  const { jobId, assets, indices, committedRoot } = request
  try {
    const response = await network.results.requestResult(providerPeer, {
      version: 1,
      jobId,
      indices: leavesNeeded(assets.spec.kind, indices, attributionIndexOf(assets)),
    })
    if (response.status !== 'ok' || response.result === undefined) {
      return { served: false, unserved: { reason: 'answered', status: response.status } }
    }
    const { result } = response
    return {
      served: true,
      outputHash: result.outputHash,
      sameRoot: result.resultRoot.toLowerCase() === committedRoot.toLowerCase(),
      claims: new Map(result.leaves.map((l) => [l.index, { dataHash: l.dataHash, proof: l.proof }])),
    }
  } catch (err) {
    return { served: false, unserved: { reason: 'failed', message: (err as Error).message } }
  }
}

/** The claimed data hashes whose Merkle proofs hold against `root`. */
export function provenAgainst(root: Hex, claims: ReadonlyMap<number, LeafClaim>): Map<number, Hex> {
  const proven = new Map<number, Hex>()
  for (const [index, claim] of claims) {
    if (verifyMerkleProof(root, merkleLeaf(index, claim.dataHash), claim.proof))
      proven.set(index, claim.dataHash)
  }
  return proven
}
