/**
 * Whether this provider can take an offer and on which terms: the job must be one it can
 * run here, at a price above its floor, with a free slot and enough free stake for the
 * collateral it puts up.
 */
import { getStake, isCompactSalt, type ModelStatus } from '@ocn/contracts-client'
import { type BidTerms, type JobOffer, MAX_RESULT_LEAVES_PER_REQUEST } from '@ocn/protocol'
import type { Hex } from 'viem'
import { ortVersion } from '../../executor/capabilities.js'
import type { JobSpec } from '../../executor/spec.js'
import { describeModelStatus, unapprovedStatus } from '../models.js'
import { randomUint256 } from '../shared.js'
import { busySlots, offerSpec, type ProviderContext, zkCircuitFor } from './context.js'

const COMPACT_OFFER = 'a compact-batch offer (its salt has the compact tag): this node does not serve those'

/** Why this node cannot run the job at all, or undefined when it can. */
async function unrunnable(ctx: ProviderContext, offer: JobOffer, spec: JobSpec): Promise<string | undefined> {
  const t = offer.terms
  // awarded through awardCompact, the job would have no record this node's commit can find:
  // it would be a no-show, and slashed as one
  if (isCompactSalt(t.salt)) return COMPACT_OFFER
  if (t.verification === 1) {
    if (spec.kind !== 'inference' || spec.zkInput === undefined) return 'zk offer without an inputs file'
    const circuit = await zkCircuitFor(ctx, t.modelHash)
    if (typeof circuit === 'string') return circuit
  } else if (t.verification !== 0) return 'unknown verification mode'
  if ((spec.kind === 'training' ? 1 : 0) !== t.kind) return 'spec and offer disagree on the job kind'
  if (spec.profile.ortVersion !== ortVersion()) return `needs onnxruntime ${spec.profile.ortVersion}`
  if (!ctx.options.devices.some((d) => d.split(':')[0] === spec.profile.executionProvider))
    return `device ${spec.profile.executionProvider} not offered`
  // a training offer carries steps and checkpoint interval (trainingOfferCounts); prebid checks
  // the steps against the dataset
  if (spec.kind === 'training') {
    if (Math.min(spec.checkpointInterval, t.sampleCount) !== t.microBatchSize)
      return 'spec and offer disagree on the checkpoint interval'
  } else if (spec.profile.microBatchSize !== t.microBatchSize)
    return 'spec and offer disagree on micro-batch size'
  // a verifier replaying the attribution leaf asks for every checkpoint in one result request
  if (
    spec.kind === 'training' &&
    spec.attribution !== undefined &&
    Math.ceil(t.sampleCount / t.microBatchSize) + 2 > MAX_RESULT_LEAVES_PER_REQUEST
  )
    return 'attribution job with more checkpoints than one result request carries'
  return undefined
}

/** The bid's price and collateral, or why this provider will not bid. */
async function priceAndCollateral(
  ctx: ProviderContext,
  offer: JobOffer,
): Promise<{ price: bigint; collateral: bigint } | string> {
  const { chain, keys } = ctx.components
  const { options } = ctx
  const t = offer.terms
  // inference is priced per sample, training per optimizer step (a training offer's sampleCount)
  const units = BigInt(t.sampleCount)
  const price = options.priceFloorPerSample * units
  if (price > t.maxPrice) return 'max price below our floor'
  const multiple = BigInt(Math.round(options.collateral.priceMultiple * 1000))
  const byPrice = (price * multiple) / 1000n
  const collateral = byPrice > t.minCollateral ? byPrice : t.minCollateral
  if ((await busySlots(ctx)) >= options.maxConcurrentJobs) return 'no free slot'
  const stake = await getStake(chain.client, {
    stakeManager: chain.deployment.addresses.stakeManager,
    account: keys.account.address,
  })
  if (collateral > stake.free) return 'not enough free stake for the collateral'
  const maxLocked = BigInt(Math.floor(options.collateral.maxLockedFraction * 1e6))
  if ((stake.locked + collateral) * 1_000_000n > stake.staked * maxLocked) return 'locked-stake cap reached'
  return { price, collateral }
}

/** The terms this provider bids on the offer, or why it will not bid. */
export async function bidTerms(
  ctx: ProviderContext,
  offer: JobOffer,
  jobId: Hex,
): Promise<BidTerms | string> {
  const t = offer.terms
  const spec = offerSpec(offer)
  if (spec === undefined) return 'no usable inline job spec'
  const why = await unrunnable(ctx, offer, spec)
  if (why !== undefined) return why
  const priced = await priceAndCollateral(ctx, offer)
  if (typeof priced === 'string') return priced
  return {
    jobId,
    provider: ctx.components.keys.account.address,
    price: priced.price,
    collateral: priced.collateral,
    // the requester awards after the bidding window; the bid stays good until the deadline
    expiry: t.deadline,
    nonce: randomUint256(),
    etaSeconds: Math.max(1, Math.ceil(t.sampleCount / 1000)),
  }
}

/** provider.models.onlyApproved: is the offer's model Approved in the registry? Says why not. */
export async function modelApproved(ctx: ProviderContext, modelHash: Hex, jobId: Hex): Promise<boolean> {
  let status: ModelStatus | undefined
  try {
    status = await unapprovedStatus(ctx.components.chain, modelHash)
  } catch (err) {
    // an unreadable registry is no approval: bidding blind would defeat the option
    ctx.metrics.unapprovedModelOffers.inc({ status: 'unreadable' })
    ctx.log.warn({ jobId, modelHash, err }, 'not bidding: the model registry could not be read')
    return false
  }
  if (status === undefined) return true
  ctx.metrics.unapprovedModelOffers.inc({ status })
  ctx.log.info(
    { jobId, modelHash, status, reason: `model ${describeModelStatus(status)}, not approved` },
    'not bidding: provider.models.onlyApproved and the model is not approved',
  )
  return false
}
