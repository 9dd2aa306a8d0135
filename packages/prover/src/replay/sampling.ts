/**
 * Which items a verifier re-executes, and how likely that is to catch a cheat.
 *
 * The indices come from chain randomness that did not exist when the provider committed
 * (e.g. a block hash after the commit block) and the job id, through the documented
 * DeterministicRandom stream, so every verifier draws the same set and the provider
 * could not have predicted it.
 */
import { type Hex, hexToBytes, isHex } from 'viem'
import { ReplayError } from './errors.js'
import { DeterministicRandom } from './random.js'

export const SPOT_CHECK_DOMAIN = 'ocn/spot-check/v1'

/**
 * k distinct indices in [0, n), sorted ascending: a partial Fisher-Yates shuffle over
 * 0..n-1 (kept sparse so n can be huge), seeded by SHA-256(domain, randomness, jobId).
 * Every k-subset is equally likely.
 */
export function sampleIndices(randomness: Hex | Uint8Array, jobId: string, n: number, k: number): number[] {
  const seed =
    typeof randomness === 'string' ? (isHex(randomness) ? hexToBytes(randomness) : undefined) : randomness
  if (seed?.length !== 32) {
    throw new ReplayError('REPLAY_INVALID_ARGUMENT', 'spot-check randomness must be 32 bytes')
  }
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
    throw new ReplayError('REPLAY_INVALID_ARGUMENT', `item count must be 1..2^32, got ${n}`)
  }
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new ReplayError('REPLAY_INVALID_ARGUMENT', `sample count must be 0..${n}, got ${k}`)
  }
  const rng = DeterministicRandom.derive(SPOT_CHECK_DOMAIN, seed, jobId)
  const swapped = new Map<number, number>()
  const out: number[] = []
  for (let i = 0; i < k; i++) {
    const j = i + rng.uniformInt(n - i)
    const vi = swapped.get(i) ?? i
    const vj = swapped.get(j) ?? j
    swapped.set(j, vi)
    out.push(vj)
  }
  return out.sort((a, b) => a - b)
}

/**
 * Probability that k items drawn without replacement from n catch at least one of
 * `cheated` bad ones (hypergeometric): 1 - C(n - cheated, k) / C(n, k).
 */
export function detectionProbability(n: number, k: number, cheated: number): number {
  if (!(n >= 1 && k >= 0 && k <= n && cheated >= 0 && cheated <= n)) {
    throw new ReplayError(
      'REPLAY_INVALID_ARGUMENT',
      `need 0 <= k, cheated <= n, got n=${n} k=${k} cheated=${cheated}`,
    )
  }
  if (cheated === 0 || k === 0) return 0
  if (k > n - cheated) return 1
  // product form avoids huge binomials: P(miss) = prod_{i<k} (n - cheated - i) / (n - i)
  let miss = 1
  for (let i = 0; i < k; i++) miss *= (n - cheated - i) / (n - i)
  return 1 - miss
}

/**
 * The smallest k such that checking k of n items detects a provider that cheated on a
 * fraction `cheatedFraction` of them (at least one item) with probability >= target.
 */
export function samplesForDetection(n: number, cheatedFraction: number, targetProbability: number): number {
  if (!(cheatedFraction > 0 && cheatedFraction <= 1) || !(targetProbability > 0 && targetProbability <= 1)) {
    throw new ReplayError(
      'REPLAY_INVALID_ARGUMENT',
      'cheatedFraction and targetProbability must be in (0, 1]',
    )
  }
  if (!Number.isInteger(n) || n < 1)
    throw new ReplayError('REPLAY_INVALID_ARGUMENT', `n must be >= 1, got ${n}`)
  const cheated = Math.max(1, Math.ceil(cheatedFraction * n - 1e-9))
  // P(miss) is monotone in k: walk the product until it drops below 1 - target
  let miss = 1
  for (let k = 1; k <= n; k++) {
    miss *= (n - cheated - (k - 1)) / (n - (k - 1))
    if (1 - miss >= targetProbability - 1e-12) return k
  }
  return n
}
