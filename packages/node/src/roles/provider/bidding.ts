/**
 * Offer intake: every offer heard on gossip is listed (the API's offers), and one this
 * provider can take is checked, priced, signed, recorded as a job in `bidding` and sent to
 * the requester as a bid.
 */
import { signBid } from '@ocn/contracts-client'
import { type Bid, type BidTerms, encodeJobOffer, type IdentityBinding, type JobOffer } from '@ocn/protocol'
import { bytesToHex, type Hex } from 'viem'
import type { OfferSummary } from '../../api/interface.js'
import { BoundedSet } from '../../core/collections.js'
import type { ProviderJobDetail } from '../../state/job-detail.js'
import type { ProviderContext } from './context.js'
import { PrebidGate } from './prebid-gate.js'
import { bidTerms, modelApproved } from './pricing.js'

const MAX_SEEN_OFFERS = 1000

export class Bidding {
  private readonly seen = new Map<string, OfferSummary>()
  // offers refused after a check of their artifacts: never fetched or checked again
  private readonly refused = new BoundedSet<string>(1024)
  private readonly prebid: PrebidGate

  constructor(private readonly ctx: ProviderContext) {
    this.prebid = new PrebidGate(ctx)
  }

  /** The offers heard lately, newest last. */
  offers(): OfferSummary[] {
    return [...this.seen.values()]
  }

  stop(): void {
    this.prebid.stop()
  }

  async onOffer(offer: JobOffer, jobId: Hex): Promise<void> {
    const { ctx } = this
    if (offer.terms.requester.toLowerCase() === ctx.me) return
    this.remember(offer, jobId)
    const binding = ctx.binding
    if (binding === undefined || this.refused.has(jobId)) return
    if ((await ctx.components.state.getJob(jobId)) !== undefined) return
    if (ctx.options.models.onlyApproved && !(await modelApproved(ctx, offer.terms.modelHash, jobId))) return
    // the cheap checks first: no artifact is fetched for an offer we would not bid on anyway
    const first = await bidTerms(ctx, offer, jobId)
    if (typeof first === 'string') {
      ctx.log.debug({ jobId, reason: first }, 'not bidding')
      return
    }
    const refusal = await this.prebid.refusal(offer, jobId)
    if (refusal !== undefined) {
      this.refused.add(jobId)
      ctx.metrics.prebidRejections.inc({ reason: refusal })
      return
    }
    // again: slots and free stake may have changed while the artifacts were checked
    const terms = await bidTerms(ctx, offer, jobId)
    if (typeof terms === 'string') {
      // at info, unlike the first check: the artifacts were fetched and passed, so an operator
      // who sees them land in the store and no bid go out learns why here (the offer's own
      // terms passed the first check; what fails now is our slots or stake, our own words)
      ctx.log.info({ jobId, reason: terms }, 'not bidding after the artifacts were checked')
      return
    }
    await this.bid(offer, jobId, terms, binding)
  }

  private remember(offer: JobOffer, jobId: Hex): void {
    this.seen.set(jobId, {
      jobId,
      requester: offer.terms.requester,
      kind: offer.terms.kind === 1 ? 'training' : 'inference',
      verification: offer.terms.verification === 1 ? 'zk' : 'replay',
      maxPrice: offer.terms.maxPrice,
      minStake: offer.terms.minCollateral,
      biddingEndsAt: Number(offer.terms.biddingEnds) * 1000,
      receivedAt: Date.now(),
    })
    const oldest = this.seen.keys().next()
    if (this.seen.size > MAX_SEEN_OFFERS && oldest.done !== true) this.seen.delete(oldest.value)
  }

  /** Signs the bid, records the job in `bidding` and sends the bid to the requester. */
  private async bid(offer: JobOffer, jobId: Hex, terms: BidTerms, binding: IdentityBinding): Promise<void> {
    const { chain, network, state } = this.ctx.components
    const signature = await signBid(chain.client, { domain: chain.domain, bid: terms })
    const bid: Bid = {
      version: 1,
      terms,
      signature,
      providerPeerId: network.peerId,
      providerBinding: binding,
    }
    await this.recordBid(offer, jobId, terms, signature)
    const receipt = await network.bids.sendBid(offer.requesterPeerId, bid).catch((err: unknown) => {
      // the requester may have read the bid before the answer was lost (its node killed, the
      // stream reset): the signed bid can still be awarded, and a provider that ignored that
      // award would be slashed as a no-show. The record stays `bidding`: an award is executed,
      // and the tick closes it once the offer's deadline passes without one.
      this.ctx.log.warn({ jobId, err }, 'bid not acknowledged; an award of it is still honoured')
      return undefined
    })
    if (receipt === undefined) return
    // `internal`: the requester's handler failed, perhaps after it stored the bid
    if (!receipt.accepted && receipt.reason === 'internal') {
      this.ctx.log.warn({ jobId }, 'the requester failed on the bid; an award of it is still honoured')
      return
    }
    if (!receipt.accepted) {
      await state.transitionJob(jobId, 'failed', { note: `bid refused: ${receipt.reason ?? 'no reason'}` })
      return
    }
    this.ctx.metrics.bidsSent.inc()
    this.ctx.log.info({ jobId, price: terms.price.toString() }, 'bid sent')
  }

  private async recordBid(offer: JobOffer, jobId: Hex, terms: BidTerms, signature: Hex): Promise<void> {
    const { keys, network, state } = this.ctx.components
    const detail: ProviderJobDetail = {
      role: 'provider',
      offer: bytesToHex(encodeJobOffer(offer)),
      requesterPeerId: offer.requesterPeerId,
    }
    await state.createJob(
      {
        id: jobId,
        role: 'provider',
        state: 'bidding',
        kind: offer.terms.kind === 1 ? 'training' : 'inference',
        verification: offer.terms.verification === 1 ? 'zk' : 'replay',
        modelHash: offer.terms.modelHash,
        inputHash: offer.terms.inputHash,
        requester: offer.terms.requester,
        provider: keys.account.address,
        maxPrice: offer.terms.maxPrice,
        price: terms.price,
        collateral: terms.collateral,
        detail,
      },
      {
        bids: [
          {
            jobId,
            bidId: terms.nonce.toString(16),
            provider: keys.account.address,
            peerId: network.peerId,
            price: terms.price,
            collateral: terms.collateral,
            signature,
            status: 'sent',
            receivedAt: Date.now(),
          },
        ],
      },
    )
  }
}
