/**
 * Ruling on one dispute: the arbiter re-executes the disputed leaf itself, asks the provider
 * for its committed leaf at that index (proven against the committed root), and resolves
 * the dispute on the chain. The provider cheated when its leaf differs from the
 * re-execution or when it will not produce the leaf at all; the challenger's claim is never
 * trusted on its own.
 */
import { getDispute, getJob, resolve } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import type { Logger } from '../../core/logger.js'
import { fetchLeafClaims, provenAgainst, type UnservedLeaves } from '../leaf-claims.js'
import type { RoleMetrics } from '../metrics.js'
import type { ArbiterRoleOptions } from '../options.js'
import {
  type AwardedJob,
  findAwardedJob,
  type JobAssets,
  loadJobAssets,
  type RoleComponents,
  replayFor,
} from '../shared.js'

export interface ArbiterDecision {
  jobId: Hex
  leafIndex: number
  providerCheated: boolean
  replayed: Hex
  providerLeaf?: Hex
  reason: string
  txHash: Hex
}

export interface DisputeContext {
  readonly components: RoleComponents
  readonly options: ArbiterRoleOptions
  readonly metrics: RoleMetrics
  readonly log: Logger
  /** when the arbiter first looked for a disputed job's provider peer and did not know it */
  readonly peerWaitStarted: Map<Hex, number>
  readonly decisions: ArbiterDecision[]
}

/** The provider's leaves proven against the committed root, or why there are none. */
interface ProvenLeaves {
  proven: Map<number, Hex>
  outputHash?: Hex
  unserved?: string
}

/** Resolves the dispute on `jobId` if it is still open; throws to be retried later. */
export async function resolveDispute(ctx: DisputeContext, jobId: Hex): Promise<void> {
  const { chain } = ctx.components
  const market = chain.deployment.addresses.jobMarket
  const job = await getJob(chain.client, { jobMarket: market, jobId })
  if (job.status !== 'challenged') return
  const dispute = await getDispute(chain.client, { jobMarket: market, jobId })
  const leafIndex = Number(dispute.leafIndex)
  const award = await findAwardedJob(chain, jobId)
  if (award === undefined) throw new Error('no JobAwarded event for the disputed job')
  const providerPeer = providerPeerFor(ctx, jobId, award)
  const requesterPeer = ctx.components.directory.requesterPeer(jobId)
  const peers = [providerPeer, requesterPeer].filter((p): p is string => p !== undefined)
  const assets = await loadJobAssets(ctx.components, award, peers)
  // the disputed leaf and, for training, the checkpoint its segment starts from
  const leaves = await provenLeaves(ctx, jobId, job.resultRoot, providerPeer, assets, leafIndex)
  const replay = await replayFor(ctx.components, assets, {
    peer: providerPeer,
    outputHash: leaves.outputHash,
    leaf: (i) => leaves.proven.get(i),
  })
  let { unserved } = leaves
  let replayed: Hex | undefined
  try {
    replayed =
      assets.spec.kind === 'training'
        ? await replay.runTrainingSegment(leafIndex)
        : await replay.runMicroBatch(leafIndex)
  } catch (err) {
    // a segment the provider's own committed checkpoint cannot start counts against it
    if (assets.spec.kind !== 'training') throw err
    unserved ??= `segment ${leafIndex} cannot be replayed from the provider's checkpoint: ${(err as Error).message}`
  }
  const ruling = rule(leaves.proven.get(leafIndex), replayed, unserved)
  const { hash } = await chain.serialize(() =>
    resolve(chain.client, { jobMarket: market, jobId, providerCheated: ruling.providerCheated }),
  )
  ctx.decisions.push({
    jobId,
    leafIndex,
    providerCheated: ruling.providerCheated,
    replayed: replayed ?? ('0x' as Hex),
    ...(ruling.providerLeaf === undefined ? {} : { providerLeaf: ruling.providerLeaf }),
    reason: ruling.reason,
    txHash: hash,
  })
  ctx.metrics.resolutions.inc({ provider_cheated: String(ruling.providerCheated) })
  ctx.log.info(
    { jobId, leafIndex, providerCheated: ruling.providerCheated, reason: ruling.reason },
    'dispute resolved',
  )
}

/**
 * The provider's peer, or undefined once it has been unknown for the grace period (so
 * that its capability ad has time to arrive before it is ruled unreachable); throws while
 * still waiting.
 */
function providerPeerFor(ctx: DisputeContext, jobId: Hex, award: AwardedJob): string | undefined {
  const providerPeer = ctx.components.directory.providerPeer(award.provider)
  if (providerPeer === undefined) {
    const firstSeen = ctx.peerWaitStarted.get(jobId) ?? Date.now()
    ctx.peerWaitStarted.set(jobId, firstSeen)
    if (Date.now() - firstSeen < ctx.options.unknownPeerGraceSeconds * 1000) {
      throw new Error('provider peer not known yet; waiting for its capability ad')
    }
  }
  ctx.peerWaitStarted.delete(jobId)
  return providerPeer
}

/** The provider's leaves whose proofs hold against the committed root. */
async function provenLeaves(
  ctx: DisputeContext,
  jobId: Hex,
  root: Hex,
  providerPeer: string | undefined,
  assets: JobAssets,
  leafIndex: number,
): Promise<ProvenLeaves> {
  const fetched = await fetchLeafClaims(ctx.components.network, providerPeer, {
    jobId,
    assets,
    indices: [leafIndex],
    committedRoot: root,
  })
  if (!fetched.served) return { proven: new Map(), unserved: unservedReason(fetched.unserved) }
  return { proven: provenAgainst(root, fetched.claims), outputHash: fetched.outputHash }
}

function unservedReason(unserved: UnservedLeaves): string {
  if (unserved.reason === 'no-peer') return 'provider unreachable: no capability ad heard'
  if (unserved.reason === 'answered') return `provider answered ${unserved.status}`
  return `provider did not serve the leaf: ${unserved.message}`
}

/** The ruling: any doubt about the provider's leaf counts against the provider. */
function rule(
  providerLeaf: Hex | undefined,
  replayed: Hex | undefined,
  unserved: string | undefined,
): { providerCheated: boolean; providerLeaf?: Hex; reason: string } {
  let reason: string
  if (unserved !== undefined) reason = unserved
  else if (providerLeaf === undefined)
    reason = 'provider leaf missing or not proven against the committed root'
  else if (providerLeaf.toLowerCase() === replayed?.toLowerCase())
    reason = 'provider leaf matches the re-execution'
  else reason = 'provider leaf differs from the re-execution'
  const providerCheated =
    unserved !== undefined ||
    providerLeaf === undefined ||
    replayed === undefined ||
    providerLeaf.toLowerCase() !== replayed.toLowerCase()
  return { providerCheated, ...(providerLeaf === undefined ? {} : { providerLeaf }), reason }
}
