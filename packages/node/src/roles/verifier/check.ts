/**
 * One spot check of a committed replay job: once the randomness exists, the sampled leaves
 * are fetched from the provider, re-executed under the job's replay profile and compared,
 * and the outcome is written to the job record as its VerificationReport. A mismatch, or a
 * provider that will not serve its leaves, ends in a challenge.
 */
import { type GetJobReturnType, getJob } from '@ocn/contracts-client'
import { type LeafClaim, type ReplayExecutor, spotCheck } from '@ocn/prover'
import type { Hex } from 'viem'
import {
  type AwardedJob,
  type VerificationReport,
  type VerifierJobDetail,
  verifierDetail,
} from '../../state/job-detail.js'
import { fetchLeafClaims, type UnservedLeaves } from '../leaf-claims.js'
import { type JobAssets, loadJobAssets, replayFor } from '../shared.js'
import { type ChallengeEvidence, challengeLeaf } from './challenge.js'
import type { VerifierContext } from './context.js'
import { drawSample, type Randomness, randomnessAfter, type Sample } from './sample.js'

/** A job whose check is due now, with what the check starts from. */
interface DueCheck {
  jobId: Hex
  detail: VerifierJobDetail
  award: AwardedJob
  onChain: GetJobReturnType
  randomness: Randomness
  providerPeer: string | undefined
}

/** What the provider served for the sampled leaves, or why it served nothing usable. */
type ServedClaims =
  | { claims: Map<number, LeafClaim>; outputHash: Hex; unserved?: undefined }
  | { claims?: undefined; outputHash?: undefined; unserved: string }

interface Judgement {
  report: VerificationReport
  evidence?: ChallengeEvidence
}

export async function check(ctx: VerifierContext, jobId: Hex): Promise<void> {
  const due = await dueCheck(ctx, jobId)
  if (due === undefined) return
  const { award, providerPeer, onChain, randomness } = due
  const requesterPeer = ctx.components.directory.requesterPeer(jobId)
  const peers = [providerPeer, requesterPeer].filter((p): p is string => p !== undefined)
  let assets: JobAssets
  try {
    assets = await loadJobAssets(ctx.components, award, peers)
  } catch (err) {
    ctx.log.warn({ jobId, err }, 'job artifacts unavailable; cannot verify yet')
    return
  }
  const sample = drawSample(ctx.options, jobId, randomness, onChain.leafCount)
  const served = await claimsFor(ctx, due, assets, sample.indices)
  const replay = await replayFor(ctx.components, assets, {
    peer: providerPeer,
    outputHash: served.outputHash,
    leaf: (i) => served.claims?.get(i)?.dataHash,
  })
  const { report, evidence } =
    served.claims === undefined
      ? await judgeUnserved(due, assets, sample, replay, served.unserved)
      : await judgeClaims(due, assets, sample, replay, served.claims)
  await ctx.components.state.updateJob(jobId, { detail: { ...due.detail, report } })
  ctx.metrics.checks.inc({ result: report.passed ? 'passed' : 'failed' })
  ctx.metrics.checkSeconds.observe(report.costMs / 1000)
  ctx.log.info(
    { jobId, passed: report.passed, checked: report.checkedIndices.length, p: report.detectionProbability },
    'verification report',
  )
  if (evidence !== undefined) await challengeLeaf(ctx, jobId, evidence)
}

/**
 * The job when its check is due: a committed replay job not checked yet, still in its
 * challenge window, with the randomness block mined. An unknown provider peer is waited
 * for until the window's end comes within the grace period.
 */
async function dueCheck(ctx: VerifierContext, jobId: Hex): Promise<DueCheck | undefined> {
  const { state, chain, directory } = ctx.components
  const job = await state.requireJob(jobId)
  const detail = verifierDetail(job)
  if (job.state !== 'committed' || detail.report !== undefined || detail.commitBlock === undefined) return
  const award = detail.award
  if (award.verification !== 0) return
  const onChain = await getJob(chain.client, { jobMarket: ctx.market(), jobId })
  if (onChain.status !== 'committed') {
    await ctx.reconcile(job)
    return
  }
  if ((await chain.chainTime()) >= BigInt(onChain.challengeEnds)) return
  const randomness = await randomnessAfter(chain, detail.commitBlock)
  if (randomness === undefined) return // the tick comes back once the next block exists
  const providerPeer = directory.providerPeer(award.provider)
  if (
    providerPeer === undefined &&
    BigInt(onChain.challengeEnds) - (await chain.chainTime()) > BigInt(ctx.options.unknownPeerGraceSeconds)
  ) {
    ctx.log.debug({ jobId, provider: award.provider }, 'provider peer not known yet; waiting for its ad')
    return
  }
  return { jobId, detail, award, onChain, randomness, providerPeer }
}

/** The provider's claims for exactly the sampled leaves, taken only from the root it committed. */
async function claimsFor(
  ctx: VerifierContext,
  due: DueCheck,
  assets: JobAssets,
  indices: readonly number[],
): Promise<ServedClaims> {
  const fetched = await fetchLeafClaims(ctx.components.network, due.providerPeer, {
    jobId: due.jobId,
    assets,
    indices,
    committedRoot: due.onChain.resultRoot,
  })
  if (!fetched.served) return { unserved: unservedReason(fetched.unserved) }
  if (!fetched.sameRoot) return { unserved: 'provider serves another root than it committed' }
  return { claims: fetched.claims, outputHash: fetched.outputHash }
}

function unservedReason(unserved: UnservedLeaves): string {
  if (unserved.reason === 'no-peer') return 'provider peer unknown'
  if (unserved.reason === 'answered') return `provider answered ${unserved.status}`
  return `provider did not serve leaves: ${unserved.message}`
}

/** No leaves: the first sampled micro-batch is replayed so the challenge names a correct hash. */
async function judgeUnserved(
  due: DueCheck,
  assets: JobAssets,
  sample: Sample,
  replay: ReplayExecutor,
  unserved: string,
): Promise<Judgement> {
  const kind = assets.spec.kind
  const started = performance.now()
  // training: segment 0 (the initial state) needs nothing from the provider
  const index = kind === 'training' ? 0 : sample.indices[0]!
  const replayed =
    kind === 'training' ? await replay.runTrainingSegment(index) : await replay.runMicroBatch(index)
  return {
    evidence: { index, replayed },
    report: {
      checkedIndices: [index],
      leafCount: due.onChain.leafCount,
      samples: 1,
      detectionProbability: 0,
      passed: false,
      mismatches: [{ index, reason: 'not-served', replayed }],
      costMs: performance.now() - started,
      randomnessBlock: due.randomness.block.toString(),
      unserved,
    },
  }
}

/** The served leaves re-executed and compared; the first different result is the evidence. */
async function judgeClaims(
  due: DueCheck,
  assets: JobAssets,
  sample: Sample,
  replay: ReplayExecutor,
  claims: Map<number, LeafClaim>,
): Promise<Judgement> {
  const result = await spotCheck({
    kind: assets.spec.kind,
    jobId: due.jobId,
    randomness: due.randomness.hash,
    root: due.onChain.resultRoot,
    leafCount: due.onChain.leafCount,
    samples: sample.samples,
    claim: (i) => {
      const c = claims.get(i)
      if (c === undefined) throw new Error(`leaf ${i} not served`)
      return c
    },
    executor: replay,
  })
  const report: VerificationReport = {
    checkedIndices: result.checkedIndices,
    leafCount: due.onChain.leafCount,
    samples: sample.samples,
    detectionProbability: result.detectionProbability,
    passed: result.passed,
    mismatches: result.mismatches.map((m) => ({
      index: m.index,
      reason: m.reason,
      claimed: m.claimed,
      ...('replayed' in m ? { replayed: m.replayed } : {}),
    })),
    costMs: result.costMs,
    randomnessBlock: due.randomness.block.toString(),
  }
  const bad = result.mismatches.find((m) => m.reason === 'different-result')
  if (bad !== undefined && 'replayed' in bad)
    return { report, evidence: { index: bad.index, replayed: bad.replayed } }
  return { report }
}
