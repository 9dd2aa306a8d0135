/**
 * One spot check of a committed replay job: this verifier draws its private sample out of the
 * leaf count the job's terms fix, fetches those leaves from the provider, re-executes them
 * under the job's replay profile and compares, and writes the outcome to the job record as
 * its VerificationReport. Whatever the provider does wrong (a different result, leaves not
 * served, served partly, out of range or malformed, checkpoints withheld, a leaf count other
 * than the terms') ends in a challenge (evidence.ts), never in a verifier error.
 */
import { type GetJobReturnType, getJob } from '@ocn/contracts-client'
import { type LeafClaim, type SpotCheckReport, spotCheck } from '@ocn/prover'
import type { Hex } from 'viem'
import {
  type AwardedJob,
  type VerificationReport,
  type VerifierJobDetail,
  verifierDetail,
} from '../../state/job-detail.js'
import { fetchLeafClaims, type UnservedLeaves } from '../leaf-claims.js'
import { type JobAssets, loadJobAssets, replayFor } from '../shared.js'
import {
  advanceChallenge,
  type ChallengeEvidence,
  challengePending,
  disputedByOthers,
  sealedChallenge,
} from './challenge.js'
import type { VerifierContext } from './context.js'
import { evidenceFor } from './evidence.js'
import { knownProviderPeer } from './provider-peer.js'
import { recheckOf } from './recheck.js'
import { replayWithProgress } from './replay-progress.js'
import { drawSample, type Sample, termsLeafCount } from './sample.js'

/** A job whose check is due now, with what the check starts from. */
interface DueCheck {
  jobId: Hex
  detail: VerifierJobDetail
  award: AwardedJob
  onChain: GetJobReturnType
  providerPeer: string | undefined
}

/** What the provider served for the sampled leaves, or why it served nothing usable. */
type ServedClaims =
  | { claims: Map<number, LeafClaim>; outputHash: Hex; unserved?: undefined; noPeer?: undefined }
  /** `noPeer`: nothing was asked (the provider's peer is not known here) */
  | { claims?: undefined; outputHash?: undefined; unserved: string; noPeer?: boolean }

export async function check(ctx: VerifierContext, jobId: Hex): Promise<void> {
  // a challenge this verifier already found (and sealed) is driven on, not checked again
  if (challengePending(verifierDetail(await ctx.components.state.requireJob(jobId)).challenge)) {
    return advanceChallenge(ctx, jobId, recheckOf(ctx, jobId))
  }
  const due = await dueCheck(ctx, jobId)
  if (due === undefined) return
  const { award, providerPeer, onChain } = due
  const requesterPeer = ctx.components.directory.requesterPeer(jobId)
  const peers = [providerPeer, requesterPeer].filter((p): p is string => p !== undefined)
  let assets: JobAssets
  try {
    assets = await loadJobAssets(ctx.components, award, peers, { jobId })
  } catch (err) {
    ctx.log.warn({ jobId, err }, 'job artifacts unavailable; cannot verify yet')
    return
  }
  const sample = await drawSample(ctx, jobId, onChain.resultRoot, termsLeafCount(award, assets))
  const served = await claimsFor(ctx, due, assets, sample.indices)
  const mayRecover = await unservedMayRecover(ctx, onChain.challengeEnds)
  if (served.noPeer === true && !ctx.heardEveryAd()) {
    // no request was ever made: a node that has not heard the provider's peer since it
    // started (killed and restarted, the provider's ads not come again yet) has no evidence, and
    // a challenge on its own ignorance is ruled false once the jurors reach the provider (half
    // its stake at risk lost). Other verifiers, and this one once it hears the peer, judge it.
    ctx.log.warn({ jobId, provider: award.provider }, 'provider peer not heard since start: no challenge')
    return
  }
  if (served.unserved !== undefined && mayRecover) {
    // an honest provider may be restarting: a challenge now would cost this verifier its bond
    // when the jurors later find the leaves served. Asked again on the next tick, and judged
    // unserved only once the window's end is within the grace.
    ctx.log.info({ jobId, unserved: served.unserved }, 'provider did not answer; asking again before judging')
    return
  }
  if (served.unserved !== undefined && (await pileOnAvoidable(ctx, jobId, onChain.challengeEnds))) {
    ctx.log.info(
      { jobId },
      'provider unreachable, another verifier already challenged: waiting before piling on',
    )
    return
  }
  const replay = await replayFor(ctx.components, assets, {
    peer: providerPeer,
    outputHash: served.outputHash,
    leaf: (i) => served.claims?.get(i)?.dataHash,
    root: onChain.resultRoot,
    sampled: sample.indices,
  })
  const progress = ctx.components.progress
  const watched = replayWithProgress(replay, progress, { jobId, sampled: sample.indices.length })
  const result = await spotCheck({
    // a sequence job's leaves are replayed one by one like micro-batches; a generate job's
    // positions are matched (matchesMicroBatch) against the verifier's own prefill
    kind: assets.spec.kind === 'training' ? 'training' : 'inference',
    jobId,
    randomness: sample.seed,
    root: onChain.resultRoot,
    leafCount: sample.leafCount,
    samples: sample.samples,
    // a leaf the provider left out of its answer is a `not-served` mismatch
    claim: (i) => served.claims?.get(i),
    executor: watched,
  })
  const evidence = await evidenceFor({
    kind: assets.spec.kind,
    mismatches: result.mismatches,
    termsLeafCount: sample.leafCount,
    committedLeafCount: onChain.leafCount,
    replay,
    lastChance: !mayRecover,
  })
  const report = reportOf(result, sample, onChain.leafCount, served.unserved, evidence)
  // the report and the sealed challenge (its salt) in one write: a node killed right after it
  // neither checks again nor forgets the challenge it found
  const challenge = evidence === undefined ? {} : { challenge: sealedChallenge(evidence) }
  await ctx.components.state.updateJob(jobId, { detail: { ...due.detail, report, ...challenge } })
  ctx.metrics.checks.inc({ result: report.passed ? 'passed' : 'failed' })
  ctx.metrics.checkSeconds.observe(report.costMs / 1000)
  ctx.log.info(
    { jobId, passed: report.passed, checked: report.checkedIndices.length, p: report.detectionProbability },
    'verification report',
  )
  if (evidence !== undefined) await advanceChallenge(ctx, jobId, recheckOf(ctx, jobId))
}

/**
 * The job when its check is due: a committed replay job not checked yet, still in its
 * challenge window. An unknown provider peer is waited for until the window's end comes
 * within the grace period.
 */
async function dueCheck(ctx: VerifierContext, jobId: Hex): Promise<DueCheck | undefined> {
  const { state, chain } = ctx.components
  const job = await state.requireJob(jobId)
  const detail = verifierDetail(job)
  if (job.state !== 'committed' || detail.report !== undefined) return
  const award = detail.award
  if (award.verification !== 0) return
  const onChain = await getJob(chain.client, { jobMarket: ctx.market(), jobId })
  if (onChain.status !== 'committed') {
    await ctx.reconcile(job)
    return
  }
  if ((await chain.chainTime()) >= BigInt(onChain.challengeEnds)) return
  const providerPeer = await knownProviderPeer(ctx, job.id, detail)
  if (
    providerPeer === undefined &&
    BigInt(onChain.challengeEnds) - (await chain.chainTime()) > BigInt(ctx.options.unknownPeerGraceSeconds)
  ) {
    ctx.log.debug({ jobId, provider: award.provider }, 'provider peer not known yet; waiting for its ad')
    return
  }
  const known = providerPeer === undefined ? detail : { ...detail, providerPeer }
  return { jobId, detail: known, award, onChain, providerPeer }
}

/**
 * Whether an answer the provider did not give at all (unreachable, refused, busy, timed out)
 * may still come: true while the challenge window's end is farther than the grace, which is
 * long enough for a provider restart. Answers that leave leaves out or break them are judged
 * at once: they are not the symptom of a crash.
 */
async function unservedMayRecover(ctx: VerifierContext, challengeEnds: number | bigint): Promise<boolean> {
  const left = BigInt(challengeEnds) - (await ctx.components.chain.chainTime())
  return left > BigInt(ctx.options.unknownPeerGraceSeconds)
}

/**
 * No pile-on: when the provider is unreachable and another verifier's challenge is already open
 * on the job (it makes the provider answer a jury, unless withdrawn), this verifier waits for
 * the first quarter of the grace, asking again each tick. After that it challenges anyway:
 * an open sealed challenge may be conceded after the window has closed (or be a withholding
 * provider's sock puppet that will), and only its own challenge keeps the provider bound.
 * Each honest challenger that then sees the leaf served concedes for the fee (challenge.ts).
 */
async function pileOnAvoidable(
  ctx: VerifierContext,
  jobId: Hex,
  challengeEnds: number | bigint,
): Promise<boolean> {
  const left = BigInt(challengeEnds) - (await ctx.components.chain.chainTime())
  // three quarters of the grace stay for the last check and the commit to be mined in the window
  if (left * 4n <= BigInt(ctx.options.unknownPeerGraceSeconds) * 3n) return false
  return disputedByOthers(ctx, jobId)
}

/** The provider's claims for the sampled leaves, taken only from the root it committed. */
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
  if (!fetched.served) {
    return { unserved: unservedReason(fetched.unserved), noPeer: fetched.unserved.reason === 'no-peer' }
  }
  if (!fetched.sameRoot) return { unserved: 'provider serves another root than it committed' }
  return { claims: fetched.claims, outputHash: fetched.outputHash }
}

function unservedReason(unserved: UnservedLeaves): string {
  if (unserved.reason === 'no-peer') return 'provider peer unknown'
  if (unserved.reason === 'answered') return `provider answered ${unserved.status}`
  return `provider did not serve leaves: ${unserved.message}`
}

/** The report on the job record: what was checked, what was found, what is challenged. */
function reportOf(
  result: SpotCheckReport,
  sample: Sample,
  committedLeafCount: number,
  unserved: string | undefined,
  evidence: ChallengeEvidence | undefined,
): VerificationReport {
  return {
    checkedIndices: result.checkedIndices,
    leafCount: sample.leafCount,
    committedLeafCount,
    samples: sample.samples,
    detectionProbability: result.detectionProbability,
    // the findings' judgement: a segment whose start state was busy at first and then replayed
    // to the claim is listed below but holds; a wrong leaf count is evidence with no mismatch
    passed: evidence === undefined,
    mismatches: result.mismatches.map((m) => ({
      index: m.index,
      reason: m.reason,
      ...('claimed' in m ? { claimed: m.claimed } : {}),
      ...('replayed' in m ? { replayed: m.replayed } : {}),
      ...('error' in m ? { error: m.error } : {}),
    })),
    costMs: result.costMs,
    sampleSignature: sample.signature,
    ...(unserved === undefined ? {} : { unserved }),
    ...(evidence === undefined ? {} : { challenged: evidence }),
  }
}
