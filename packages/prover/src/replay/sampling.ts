/**
 * Which items a verifier re-executes, and how likely that is to catch a cheat.
 *
 * The indices come from a seed only the verifier can compute: the keccak-256 of its own
 * deterministic (RFC 6979) secp256k1 signature over the commitment (chain id, JobMarket,
 * job id, result root), see `privateSampleSeed`. So the sample
 * - did not exist before the commitment was final (it signs the committed root),
 * - cannot be chosen or learned by the provider or a block producer (it needs the key),
 * - differs per verifier (another key, another signature), so several verifiers check
 *   different leaves and their chances of catching a cheat multiply,
 * - is the same after a restart (the signature is deterministic), and can be shown to a
 *   jury later (the signature recovers to the verifier's address).
 * The seed then drives the documented DeterministicRandom stream.
 */
import {
  type Address,
  encodeAbiParameters,
  type Hex,
  hexToBytes,
  isHex,
  keccak256,
  recoverAddress,
} from 'viem'
import { ReplayError } from './errors.js'
import { DeterministicRandom } from './random.js'

export const SPOT_CHECK_DOMAIN = 'ocn/spot-check/v1'

/** What a verifier's sample is bound to: one commitment on one market on one chain. */
export interface SampleCommitment {
  chainId: number | bigint
  jobMarket: Address
  jobId: Hex
  resultRoot: Hex
}

/** Signs a 32-byte digest deterministically (a viem local account's `sign({ hash })`). */
export interface SampleSigner {
  sign(parameters: { hash: Hex }): Promise<Hex>
}

/** The digest a verifier signs for its sample: domain-separated, so it signs nothing else. */
export function sampleSeedDigest(commitment: SampleCommitment): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'string' },
        { type: 'uint256' },
        { type: 'address' },
        { type: 'bytes32' },
        { type: 'bytes32' },
      ],
      [
        SPOT_CHECK_DOMAIN,
        BigInt(commitment.chainId),
        commitment.jobMarket,
        commitment.jobId,
        commitment.resultRoot,
      ],
    ),
  )
}

/** A verifier's private sample seed and the signature it came from (its proof of honest drawing). */
export interface PrivateSampleSeed {
  seed: Hex
  signature: Hex
}

/**
 * The verifier's seed for one commitment: keccak-256 of its signature over
 * `sampleSeedDigest`. secp256k1 signing in viem is RFC 6979 deterministic, so the same key
 * gives the same seed every time; without the key nobody can compute it.
 */
export async function privateSampleSeed(
  signer: SampleSigner,
  commitment: SampleCommitment,
): Promise<PrivateSampleSeed> {
  const signature = await signer.sign({ hash: sampleSeedDigest(commitment) })
  return { seed: keccak256(signature), signature }
}

/** Whether `signature` is `verifier`'s over the commitment and `seed` derives from it (for a jury). */
export async function verifySampleSeed(
  verifier: Address,
  commitment: SampleCommitment,
  drawn: PrivateSampleSeed,
): Promise<boolean> {
  if (keccak256(drawn.signature).toLowerCase() !== drawn.seed.toLowerCase()) return false
  const signer = await recoverAddress({ hash: sampleSeedDigest(commitment), signature: drawn.signature })
  return signer.toLowerCase() === verifier.toLowerCase()
}

/**
 * k distinct indices in [0, n), sorted ascending: a partial Fisher-Yates shuffle over
 * 0..n-1 (kept sparse so n can be huge), seeded by SHA-256(domain, seed, jobId).
 * Every k-subset is equally likely.
 */
export function sampleIndices(seed: Hex | Uint8Array, jobId: string, n: number, k: number): number[] {
  const bytes = typeof seed === 'string' ? (isHex(seed) ? hexToBytes(seed) : undefined) : seed
  if (bytes?.length !== 32) {
    throw new ReplayError('REPLAY_INVALID_ARGUMENT', 'spot-check seed must be 32 bytes')
  }
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
    throw new ReplayError('REPLAY_INVALID_ARGUMENT', `item count must be 1..2^32, got ${n}`)
  }
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new ReplayError('REPLAY_INVALID_ARGUMENT', `sample count must be 0..${n}, got ${k}`)
  }
  const rng = DeterministicRandom.derive(SPOT_CHECK_DOMAIN, bytes, jobId)
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
 * fraction `cheatedFraction` of them (c = ceil(fraction * n), at least one item) with
 * probability >= target, the probability being the hypergeometric one of
 * `detectionProbability`. At target 1 only certainty will do: every sample of k items must
 * hold a cheated one, so k = n - c + 1 (one more than the honest items).
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
  const cheated = Math.min(n, Math.max(1, Math.ceil(cheatedFraction * n - 1e-9)))
  const certain = n - cheated + 1
  if (targetProbability === 1) return certain
  // P(miss) falls with k: walk the product until it is at most 1 - target. It is compared
  // with the miss allowance itself (not 1 - P(miss) with a tolerance), which keeps a tiny
  // but nonzero miss probability from counting as certainty.
  const allowedMiss = 1 - targetProbability
  let miss = 1
  for (let k = 1; k < certain; k++) {
    miss *= (n - cheated - (k - 1)) / (n - (k - 1))
    if (miss <= allowedMiss) return k
  }
  return certain
}
