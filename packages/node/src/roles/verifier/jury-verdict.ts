/**
 * A juror's verdict on one disputed leaf: it re-executes the leaf itself with the real
 * executor, asks the provider for its committed leaf at that index with its Merkle proof
 * against the committed root, and compares. The challenger's claim is never trusted on its
 * own, and any doubt about the provider's leaf counts against the provider: a leaf not
 * proven against the root, a training segment its own checkpoint cannot start, a committed
 * leaf count other than the terms', and a leaf still not served when the grace for a
 * provider restart is over. A juror that cannot replay for its own reasons (an artifact it
 * cannot get, its own executor failing) gives no verdict rather than a guilty one.
 */
import { CourtVote, getJob } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { fetchLeafClaims, provenAgainst, type UnservedLeaves } from '../leaf-claims.js'
import { type AwardedJob, type JobAssets, loadJobAssets, replayFor } from '../shared.js'
import type { VerifierContext } from './context.js'
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
}

/** Seconds before the commit deadline that the juror stops waiting and votes (its commit must land). */
export const VOTE_COMMIT_MARGIN_SECONDS = 4n
const RETRY_MS = 1_000

const guilty = (reason: string): Verdict => ({ choice: CourtVote.guilty, reason })

/** The provider's leaves proven against the committed root (and output hash), or why none is served. */
type ProviderLeaf = { proven: Map<number, Hex>; outputHash: Hex; root: Hex } | { unserved: string }

/** The verdict, or undefined when this juror cannot judge (it then does not vote). */
export async function juryVerdict(ctx: VerifierContext, seat: DisputedLeaf): Promise<Verdict | undefined> {
  const { chain, directory } = ctx.components
  const onChain = await getJob(chain.client, { jobMarket: ctx.market(), jobId: seat.jobId })
  let assets: JobAssets | undefined
  let served: ProviderLeaf = { unserved: 'not asked yet' }
  for (;;) {
    const providerPeer = directory.providerPeer(seat.award.provider)
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
      if (!('unserved' in served)) return judge(ctx, seat, assets, served, providerPeer)
    }
    // a provider restarting gets until shortly before the commit deadline to serve its leaf
    if ((await chain.chainTime()) >= seat.commitEnds - VOTE_COMMIT_MARGIN_SECONDS) break
    await ctx.pause(RETRY_MS)
  }
  if (assets === undefined) {
    ctx.log.warn({ jobId: seat.jobId }, 'juror could not get the job artifacts: no vote')
    return undefined
  }
  return guilty(`leaf ${seat.leafIndex} not served: ${'unserved' in served ? served.unserved : ''}`)
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
  if (!fetched.served) return { unserved: unservedReason(fetched.unserved) }
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
): Promise<Verdict | undefined> {
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
    // a segment (or chunk) the provider's own committed state cannot start counts against it
    if (assets.spec.kind !== 'inference') {
      return guilty(
        `segment ${seat.leafIndex} cannot start from the provider's checkpoint: ${(err as Error).message}`,
      )
    }
    ctx.log.warn({ jobId: seat.jobId, err }, "juror's own re-execution failed: no vote")
    return undefined
  }
  return leaf.toLowerCase() === replayed.toLowerCase()
    ? { choice: CourtVote.notGuilty, reason: 'the provider leaf matches the re-execution' }
    : guilty('the provider leaf differs from the re-execution')
}
