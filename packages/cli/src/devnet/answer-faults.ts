/**
 * Devnet cheats on the spot-check answer: a provider that computed (and committed) its
 * results and then does not let a verifier check them. Each is a pure rewrite of the honest
 * answer (the training one also places the manifest it points to), applied to every request
 * for the job's leaves, the arbiter's included, so the provider is consistent about it.
 */
import type { ResultResponse } from '@ocn/protocol'
import { keccak256, toHex } from 'viem'

/**
 * How a cheating provider answers a request for its committed leaves:
 * - `withhold`: `ok`, but without any of the leaves asked for
 * - `partial`: `ok` with only the first half of them (rounded down: at least one is missing)
 * - `out-of-range`: `ok` with the leaves moved past the end of the tree
 * - `malformed`: `ok` with leaves whose data hashes and proofs are garbage
 * - `withhold-checkpoints`: training only; the leaves as committed, but the manifest they
 *   point to names checkpoint states the provider never serves, so no segment can be replayed
 */
export const ANSWER_CHEATS = [
  'withhold',
  'partial',
  'out-of-range',
  'malformed',
  'withhold-checkpoints',
] as const
export type AnswerCheat = (typeof ANSWER_CHEATS)[number]

type OkResult = NonNullable<ResultResponse['result']>

/** The answer with its leaves rewritten as `cheat` says (withhold-checkpoints: unchanged here). */
export function rewriteLeaves(cheat: AnswerCheat, result: OkResult): OkResult {
  const leaves = result.leaves
  switch (cheat) {
    case 'withhold':
      return { ...result, leaves: [] }
    case 'partial':
      return { ...result, leaves: leaves.slice(0, Math.floor(leaves.length / 2)) }
    case 'out-of-range':
      return { ...result, leaves: leaves.map((l) => ({ ...l, index: l.index + result.leafCount })) }
    case 'malformed':
      return {
        ...result,
        leaves: leaves.map((l) => ({
          ...l,
          dataHash: keccak256(l.dataHash),
          proof: [keccak256(toHex('junk'))],
        })),
      }
    case 'withhold-checkpoints':
      return result
  }
}

/**
 * A training manifest whose checkpoint states are replaced by hashes of bytes nobody has:
 * what a verifier fetches to start a segment from is withheld.
 */
export function manifestWithheld(manifest: Uint8Array): Uint8Array {
  const parsed = JSON.parse(new TextDecoder().decode(manifest)) as { checkpoints?: string[] }
  const checkpoints = (parsed.checkpoints ?? []).map((h) => keccak256(toHex(`withheld ${h}`)))
  return new TextEncoder().encode(JSON.stringify({ ...parsed, checkpoints }))
}
