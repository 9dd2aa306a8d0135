/**
 * A juror's verdict on one disputed leaf: it re-executes the leaf itself with the real
 * executor, asks the provider for its committed leaf at that index with its Merkle proof
 * against the committed root, and compares. The challenger's claim is never trusted on its
 * own, and any doubt about the provider's leaf counts against the provider: a leaf not
 * proven against the root, a training segment its own checkpoint cannot start, a committed
 * leaf count other than the terms', and a leaf still not served when the grace for a
 * provider restart is over. A juror that cannot replay for its own reasons (an artifact it
 * cannot get, its own executor failing, ONNX Runtime erroring, a timeout) retries until shortly
 * before the commit deadline and then abstains: it gives no verdict rather than a guilty one
 * (replay-fault.ts says whose fault a failed replay is). An honest provider is never convicted
 * because a juror's own replay broke.
 *
 * Abstaining is not free: the DisputeCourt has no abstain vote, and a seated juror that does
 * not reveal a vote loses `jurorPenalty` of its juror stake when the dispute executes
 * (whatever the ruling; 10 OPEN with the default parameters). That is the price of never
 * voting on a leaf this juror could not judge; the other jurors' votes decide the dispute.
 */
import { CourtVote, getJob } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import type { Logger } from '../../core/logger.js'
import { fetchLeafClaims, provenAgainst, type UnservedLeaves } from '../leaf-claims.js'
import { type AwardedJob, type JobAssets, loadJobAssets, replayFor } from '../shared.js'
import type { VerifierContext } from './context.js'
import { replayFault } from './replay-fault.js'
import { termsLeafCount } from './sample.js'

export interface Verdict {
  choice: CourtVote
  reason: string
}

export interface DisputedLeaf {
  jobId: Hex
  award: AwardedJob
  leafIndex: number
  /** the round's vote commit deadline (chain seconds): the provider has until shortly before it */
  commitEnds: bigint
  /** the provider's peer as this node's record kept it (before a restart) */
  knownPeer?: string | undefined
}

/** Seconds before the commit deadline that the juror stops waiting and votes (its commit must land). */
export const VOTE_COMMIT_MARGIN_SECONDS = 4n
const RETRY_MS = 1_000

const guilty = (reason: string): Verdict => ({ choice: CourtVote.guilty, reason })

/** The provider's leaves proven against the committed root (and output hash), or why none is served. */
export type ProviderLeaf =
  | { proven: Map<number, Hex>; outputHash: Hex; root: Hex }
  /** `noPeer`: never asked (the provider's peer is not known here) */
  | { unserved: string; noPeer?: boolean }

/** A replay that failed without a verdict: asked again until the commit deadline nears. */
export interface ReplayTrouble {
  fault: 'unserved' | 'own'
  message: string
}

/** The verdict, or undefined when this juror cannot judge (it then does not vote). */
export async function juryVerdict(ctx: VerifierContext, seat: DisputedLeaf): Promise<Verdict | undefined> {
  const { chain, directory } = ctx.components
  const onChain = await getJob(chain.client, { jobMarket: ctx.market(), jobId: seat.jobId })
  let assets: JobAssets | undefined
  let served: ProviderLeaf = { unserved: 'not asked yet' }
  let trouble: ReplayTrouble | undefined
  for (;;) {
    const providerPeer = directory.providerPeer(seat.award.provider) ?? seat.knownPeer
    const requesterPeer = directory.requesterPeer(seat.jobId)
    const peers = [providerPeer, requesterPeer].filter((p): p is string => p !== undefined)
    try {
      assets ??= await loadJobAssets(ctx.components, seat.award, peers)
    } catch (err) {
      ctx.log.warn({ jobId: seat.jobId, err }, 'juror cannot get the job artifacts yet')
    }
    if (assets !== undefined) {
      const terms = termsLeafCount(seat.award, assets)
      if (onChain.leafCount !== terms) {
        return guilty(`committed ${onChain.leafCount} leaves where the terms fix ${terms}`)
      }
      served = await providerLeaf(ctx, seat, onChain.resultRoot, providerPeer, assets)
      if (!('unserved' in served)) {
        const judged = await judge(ctx, seat, assets, served, providerPeer)
        if (!('fault' in judged)) return judged
        trouble = judged
      }
    }
    // a provider restarting gets until shortly before the commit deadline to serve its leaf,
    // and this juror's own replay as long to recover (a model still loading, a busy executor)
    if ((await chain.chainTime()) >= seat.commitEnds - VOTE_COMMIT_MARGIN_SECONDS) break
    await ctx.pause(RETRY_MS)
  }
  return verdictAtDeadline(ctx.log, seat, { assets, served, trouble, heardEveryAd: ctx.heardEveryAd() })
}

/** What a juror still short of a verdict had when the commit deadline neared. */
export interface Unjudged {
  assets: JobAssets | undefined
  served: ProviderLeaf
  trouble: ReplayTrouble | undefined
  /** this juror has run long enough to have heard every live provider's ad */
  heardEveryAd: boolean
}

/**
 * The verdict once the commit deadline nears and the juror still could not judge: guilty only
 * for what the provider did not serve, undefined (abstain) for the juror's own trouble.
 */
export function verdictAtDeadline(
  log: Logger,
  seat: Pick<DisputedLeaf, 'jobId' | 'leafIndex'>,
  { assets, served, trouble, heardEveryAd }: Unjudged,
): Verdict | undefined {
  if (assets === undefined) {
    log.warn({ jobId: seat.jobId }, 'juror could not get the job artifacts: abstains (no vote)')
    return undefined
  }
  // a leaf the provider served once, that this juror then failed to replay, is not held against
  // it; nor is a provider this juror never asked because it restarted too recently to have
  // heard the provider's ad (past an ad's TTL, a provider that never advertises is unreachable)
  if ('unserved' in served && served.noPeer === true && !heardEveryAd) {
    log.warn({ jobId: seat.jobId }, 'juror never heard the provider peer: abstains (no vote)')
    return undefined
  }
  if ('unserved' in served && trouble?.fault !== 'own') {
    return guilty(`leaf ${seat.leafIndex} not served: ${served.unserved}`)
  }
  if (trouble?.fault === 'unserved') {
    return guilty(
      `segment ${seat.leafIndex} cannot start from the provider's checkpoint (not served): ${trouble.message}`,
    )
  }
  log.error(
    { jobId: seat.jobId, leaf: seat.leafIndex, error: trouble?.message },
    "juror's own re-execution failed: abstains (no vote; the court takes its jurorPenalty, not the provider's collateral)",
  )
  return undefined
}

async function providerLeaf(
  ctx: VerifierContext,
  seat: DisputedLeaf,
  root: Hex,
  providerPeer: string | undefined,
  assets: JobAssets,
): Promise<ProviderLeaf> {
  const fetched = await fetchLeafClaims(ctx.components.network, providerPeer, {
    jobId: seat.jobId,
    assets,
    indices: [seat.leafIndex],
    committedRoot: root,
  })
  if (!fetched.served) {
    return { unserved: unservedReason(fetched.unserved), noPeer: fetched.unserved.reason === 'no-peer' }
  }
  return { proven: provenAgainst(root, fetched.claims), outputHash: fetched.outputHash, root }
}

function unservedReason(unserved: UnservedLeaves): string {
  if (unserved.reason === 'no-peer') return 'provider unreachable: no capability ad heard'
  if (unserved.reason === 'answered') return `provider answered ${unserved.status}`
  return `provider did not serve the leaf: ${unserved.message}`
}

/** Re-executes the leaf and compares it with the provider's proven one. */
async function judge(
  ctx: VerifierContext,
  seat: DisputedLeaf,
  assets: JobAssets,
  served: { proven: Map<number, Hex>; outputHash: Hex; root: Hex },
  providerPeer: string | undefined,
): Promise<Verdict | ReplayTrouble> {
  const leaf = served.proven.get(seat.leafIndex)
  if (leaf === undefined) return guilty(`leaf ${seat.leafIndex} not proven against the committed root`)
  // a training segment starts from the provider's proven checkpoint before it
  const replay = await replayFor(ctx.components, assets, {
    peer: providerPeer,
    outputHash: served.outputHash,
    leaf: (i) => served.proven.get(i),
    root: served.root,
  })
  let replayed: Hex
  try {
    // a generated position is matched against this juror's own prefill (its sampling rule
    // within the tie tolerance), not compared by hash
    if (assets.spec.kind === 'generate' && replay.matchesMicroBatch) {
      const { match } = await replay.matchesMicroBatch(seat.leafIndex, leaf)
      return match
        ? { choice: CourtVote.notGuilty, reason: 'the generated token is the one the sampling rule picks' }
        : guilty('the generated token is not the one the sampling rule picks')
    }
    replayed =
      assets.spec.kind === 'training'
        ? await replay.runTrainingSegment(seat.leafIndex)
        : await replay.runMicroBatch(seat.leafIndex)
  } catch (err) {
    const fault = replayFault(assets.spec.kind, err)
    const message = err instanceof Error ? err.message : String(err)
    // a segment (or chunk) the provider's own committed state cannot start counts against it
    if (fault === 'provider') {
      return guilty(`segment ${seat.leafIndex} cannot start from the provider's checkpoint: ${message}`)
    }
    ctx.log.warn({ jobId: seat.jobId, err, fault }, 'juror re-execution failed; trying again')
    return { fault, message }
  }
  return leaf.toLowerCase() === replayed.toLowerCase()
    ? { choice: CourtVote.notGuilty, reason: 'the provider leaf matches the re-execution' }
    : guilty('the provider leaf differs from the re-execution')
}
