/**
 * Which leaves a verifier checks: drawn from the hash of the first block after the commit
 * and the job id, so the provider could not know them when it committed, and as many as
 * the configured detection target needs (within the per-job cap).
 */
import { sampleIndices, samplesForDetection } from '@ocn/prover'
import type { Hex } from 'viem'
import type { OcnChainService } from '../../chain/service.js'
import type { VerifierConfig } from '../../config/options.js'

export interface Randomness {
  hash: Hex
  block: bigint
}

/** The hash of the first block after the commit (undefined until that block exists). */
export async function randomnessAfter(
  chain: OcnChainService,
  commitBlock: bigint,
): Promise<Randomness | undefined> {
  const block = commitBlock + 1n
  if ((await chain.blockNumber()) < block) return undefined
  const hash = await chain.blockHash(block)
  return hash === undefined ? undefined : { hash, block }
}

export interface Sample {
  /** how many leaves the target detection probability asks for */
  samples: number
  indices: number[]
}

/** The leaves to check out of `leafCount`, enough to catch one faked micro-batch at the target. */
export function drawSample(
  config: VerifierConfig,
  jobId: Hex,
  randomness: Randomness,
  leafCount: number,
): Sample {
  const n = leafCount
  const samples = Math.min(
    n,
    config.maxSamplesPerJob,
    samplesForDetection(n, 1 / n, config.targetDetectionProbability),
  )
  return { samples, indices: sampleIndices(randomness.hash, jobId, n, samples) }
}
