/**
 * Which leaves a verifier checks, and out of how many.
 *
 * How many leaves a job has is fixed by its terms, never by the provider's commitment: for
 * inference one per micro-batch, ceil(sampleCount / microBatchSize) from the JobAwarded
 * event; for training one per checkpoint of the spec's schedule (plus the attribution leaf
 * when the spec names attribution). A commitment with another count is itself a fault.
 *
 * Which of them are checked comes from this verifier's private seed (privateSampleSeed in
 * @ocn/prover): its own deterministic signature over the commitment, so neither the provider
 * nor a block producer can choose or learn the sample, every verifier draws its own, and a
 * restarted verifier draws the same one again.
 */
import { type PrivateSampleSeed, privateSampleSeed, sampleIndices, samplesForDetection } from '@ocn/prover'
import type { Hex } from 'viem'
import type { VerifierConfig } from '../../config/options.js'
import { checkpointStepsFor } from '../../executor/training/plan.js'
import type { AwardedJob } from '../../state/job-detail.js'
import { attributionLeafIndex } from '../attribution.js'
import { RoleError } from '../errors.js'
import type { JobAssets } from '../shared.js'
import type { VerifierContext } from './context.js'

/** The number of leaves a job's terms fix: micro-batches for inference, checkpoints for training. */
export function termsLeafCount(
  award: Pick<AwardedJob, 'sampleCount' | 'microBatchSize'>,
  assets: JobAssets,
): number {
  const spec = assets.spec
  // a sequence job's offer carries its chunks over all streams as samples, one per leaf
  // (and a generate job's offer its prompts x maxNewTokens positions)
  if (spec.kind === 'inference' || spec.kind === 'sequence' || spec.kind === 'generate') {
    if (!(award.microBatchSize >= 1 && award.sampleCount >= 1)) {
      throw new RoleError('ROLE_INVALID_PARAMS', 'the award names no micro-batches', {
        details: `sampleCount ${award.sampleCount}, microBatchSize ${award.microBatchSize}`,
      })
    }
    return Math.ceil(award.sampleCount / award.microBatchSize)
  }
  const rows = assets.inputs[spec.data?.features ?? 'x']?.dims[0] ?? 0
  const checkpoints = checkpointStepsFor(spec, rows).length
  return attributionLeafIndex(spec, assets.inputs) === undefined ? checkpoints : checkpoints + 1
}

export interface Sample extends PrivateSampleSeed {
  /** the leaf count of the job's terms the sample is drawn from */
  leafCount: number
  /** how many leaves the target detection probability asks for, within the per-job cap */
  samples: number
  indices: number[]
}

/**
 * The leaves to check out of the terms' `leafCount`: enough to catch one faked leaf at the
 * target probability, at most `maxSamplesPerJob`, drawn from this verifier's private seed
 * over the committed root.
 */
export async function drawSample(
  ctx: Pick<VerifierContext, 'components' | 'options' | 'market'>,
  jobId: Hex,
  resultRoot: Hex,
  leafCount: number,
): Promise<Sample> {
  const { keys, chain } = ctx.components
  const drawn = await privateSampleSeed(keys.account, {
    chainId: chain.deployment.chainId,
    jobMarket: ctx.market(),
    jobId,
    resultRoot,
  })
  const samples = samplesFor(ctx.options, leafCount)
  return { ...drawn, leafCount, samples, indices: sampleIndices(drawn.seed, jobId, leafCount, samples) }
}

/** How many of n leaves to check: the detection target for one faked leaf, capped. */
export function samplesFor(config: VerifierConfig, n: number): number {
  return Math.min(
    n,
    config.maxSamplesPerJob,
    samplesForDetection(n, 1 / n, config.targetDetectionProbability),
  )
}
