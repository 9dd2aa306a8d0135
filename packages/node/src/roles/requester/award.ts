/**
 * Bids and the award: valid bids are kept whole as they arrive; when the bidding window
 * closes they are ranked (price weighed by the provider's on-chain record) and the best one
 * is awarded on-chain with the price in escrow, the next one tried when an award fails.
 */
import { approveToken, award, getJob, getProviderRecord } from '@ocn/contracts-client'
import { type Bid, bidDigest, decodeBid, decodeJobOffer, encodeBid, type JobOffer } from '@ocn/protocol'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BidDecision } from '../../p2p/bid-protocol.js'
import { type RequesterJobDetail, requesterDetail } from '../../state/job-detail.js'
import type { BidRecord, JobRecord } from '../../state/records.js'
import { describeModelStatus, unapprovedStatus } from '../models.js'
import { JobRuns, jobMarket, type RequesterContext } from './context.js'

/** The note on a job that failed without a bid and is offered again automatically. */
export const NO_BID_REOFFER_NOTE = 'no usable bid; re-offered'

/** A bid as the requester stores it: the record plus the signed bid's wire bytes. */
type StoredBid = BidRecord & { wire: Hex }

function isStoredBid(bid: BidRecord): bid is StoredBid {
  return 'wire' in bid && Boolean(bid.wire)
}

interface RankedBid {
  record: StoredBid
  bid: Bid
  score: bigint
}

/** How a bid ranks: its price, raised for slashes and no-shows, lowered a little for a track record. */
export function effectivePrice(
  price: bigint,
  record: { completed: number; slashed: number; noShows: number },
): bigint {
  const penalty = 1n + 2n * BigInt(record.slashed) + BigInt(record.noShows)
  const bonus = 20n + BigInt(Math.min(record.completed, 10))
  return (price * penalty * 20n) / bonus
}

export class RequesterAwards {
  private readonly runs = new JobRuns()

  /** `reofferLater` offers a job that drew no usable bid again after a delay */
  constructor(
    private readonly context: RequesterContext,
    private readonly reofferLater: (jobId: string, delayMs: number) => void,
  ) {}

  /** The bid protocol's handler: keeps a bid that fits the offer while its bidding is open. */
  async onBid(bid: Bid): Promise<BidDecision> {
    const { state, chain, metrics, directory } = this.context
    const job = await state.getJob(bid.terms.jobId)
    if (job === undefined || job.role !== 'requester') return { accepted: false, reason: 'unknown-job' }
    if (job.state !== 'bidding' || Date.now() > requesterDetail(job).biddingClosesAt) {
      return { accepted: false, reason: 'bidding-closed' }
    }
    const offer = decodeJobOffer(hexToBytes(requesterDetail(job).offer))
    if (bid.terms.price > offer.terms.maxPrice) return { accepted: false, reason: 'price-too-high' }
    if (bid.terms.collateral < offer.terms.minCollateral)
      return { accepted: false, reason: 'collateral-too-low' }
    if (bid.terms.expiry <= offer.terms.biddingEnds) return { accepted: false, reason: 'expired' }
    const record: StoredBid = {
      jobId: job.id,
      bidId: bidDigest(chain.domain, bid.terms),
      provider: bid.terms.provider,
      peerId: bid.providerPeerId,
      price: bid.terms.price,
      collateral: bid.terms.collateral,
      etaMs: bid.terms.etaSeconds * 1000,
      signature: bid.signature,
      status: 'received',
      receivedAt: Date.now(),
      wire: bytesToHex(encodeBid(bid)),
    }
    await state.putBid(record)
    metrics.bidsReceived.inc()
    directory.rememberProvider(bid.terms.provider, bid.providerPeerId)
    return { accepted: true }
  }

  /** Awards the job unless its award is already under way. */
  start(jobId: string): void {
    this.runs.start(
      jobId,
      () => this.award(jobId),
      (err) => this.context.log.error({ jobId, err }, 'award failed'),
    )
  }

  inProgress(): Promise<void>[] {
    return this.runs.inProgress()
  }

  private async award(jobId: string): Promise<void> {
    const { state, chain, options } = this.context
    const job = await state.requireJob(jobId)
    // 'offered': stopped between recording the offer and publishing it; no bid can have come
    if (job.state !== 'bidding' && job.state !== 'offered') return
    const detail = requesterDetail(job)
    const offer = decodeJobOffer(hexToBytes(detail.offer))
    const onChain = await getJob(chain.client, { jobMarket: jobMarket(this.context), jobId: jobId as Hex })
    if (onChain.status !== 'none') return this.recordChainAward(jobId, detail, onChain)
    const bids = (await state.listBids(jobId)).filter(
      (b): b is StoredBid => b.status === 'received' && isStoredBid(b),
    )
    const now = await chain.chainTime()
    const ranked = await this.rank(bids, now)
    if (ranked.length === 0 || now >= offer.terms.deadline) return this.noUsableBid(job)
    if (options.models.onlyApproved && (await this.modelRevoked(jobId, offer, bids))) return
    await this.awardBest(jobId, detail, offer, ranked, bids)
  }

  /** Awarded before a crash: records what the chain says, with the winner's peer from its bid. */
  private async recordChainAward(
    jobId: string,
    detail: RequesterJobDetail,
    onChain: { provider: string; price: bigint; collateral: bigint },
  ): Promise<void> {
    const { state } = this.context
    const winner = (await state.listBids(jobId)).find(
      (b) => b.provider.toLowerCase() === onChain.provider.toLowerCase(),
    )
    await state.transitionJob(jobId, 'awarded', {
      patch: {
        provider: onChain.provider,
        price: onChain.price,
        collateral: onChain.collateral,
        ...(winner?.peerId === undefined ? {} : { detail: { ...detail, providerPeerId: winner.peerId } }),
      },
      note: 'award found on-chain after restart',
    })
  }

  /** The bids still valid at `now`, best first (ties: the earlier bid). */
  private async rank(bids: StoredBid[], now: bigint): Promise<RankedBid[]> {
    const { chain } = this.context
    const scored = await Promise.all(
      bids.map(async (record) => {
        const bid = decodeBid(hexToBytes(record.wire))
        const rep = await getProviderRecord(chain.client, {
          jobMarket: jobMarket(this.context),
          provider: bid.terms.provider,
        })
        return { record, bid, score: effectivePrice(bid.terms.price, rep) }
      }),
    )
    return scored
      .filter(({ bid }) => bid.terms.expiry > now)
      .sort((a, b) =>
        a.score < b.score ? -1 : a.score > b.score ? 1 : a.record.receivedAt - b.record.receivedAt,
      )
  }

  private async noUsableBid(job: JobRecord): Promise<void> {
    const { state, options, log } = this.context
    // Every provider may just be busy: offer it again a few times (a new offer, a new id)
    // before giving up, so one crowded moment does not fail the requester's work.
    const again = job.attempts <= options.noBidReoffers
    const delay = options.noBidReofferDelayMs
    await state.transitionJob(job.id, 'failed', {
      note: again ? `${NO_BID_REOFFER_NOTE} in ${delay} ms` : 'no usable bid',
    })
    if (again) this.reofferLater(job.id, delay)
    else log.warn({ jobId: job.id, attempts: job.attempts }, 'no bids: job failed (re-offer it)')
  }

  /**
   * requester.models.onlyApproved: a model revoked (or deprecated) while the bids came in
   * fails the job and escrows nothing. A failed read throws, and the next tick tries again
   * until the deadline fails the job.
   */
  private async modelRevoked(jobId: string, offer: JobOffer, bids: StoredBid[]): Promise<boolean> {
    const { state, chain, metrics, log } = this.context
    const status = await unapprovedStatus(chain, offer.terms.modelHash, { maxAgeMs: 0 })
    if (status === undefined) return false
    metrics.unapprovedModelJobs.inc({ stage: 'award', status })
    await state.transitionJob(jobId, 'failed', {
      note: `not awarded: model ${offer.terms.modelHash} is ${describeModelStatus(status)} in the model registry`,
      bids: bids.map((b) => ({ ...b, status: 'rejected' })),
    })
    log.warn({ jobId, modelHash: offer.terms.modelHash, status }, 'model no longer approved: job not awarded')
    return true
  }

  /** Awards the best bid on-chain, trying the next when an award fails. */
  private async awardBest(
    jobId: string,
    detail: RequesterJobDetail,
    offer: JobOffer,
    ranked: RankedBid[],
    bids: StoredBid[],
  ): Promise<void> {
    const { state, chain, metrics, log, directory } = this.context
    const market = jobMarket(this.context)
    for (const { record, bid } of ranked) {
      try {
        // approve and award back to back: another award in between would reset the allowance
        const { hash } = await chain.serialize(async () => {
          await approveToken(chain.client, {
            token: chain.deployment.addresses.token,
            spender: market,
            amount: bid.terms.price,
          })
          return award(chain.client, {
            jobMarket: market,
            offer: offer.terms,
            bid: bid.terms,
            signature: bid.signature,
          })
        })
        await state.transitionJob(jobId, 'awarded', {
          txHash: hash,
          patch: {
            provider: bid.terms.provider,
            price: bid.terms.price,
            collateral: bid.terms.collateral,
            detail: { ...detail, providerPeerId: bid.providerPeerId },
          },
          bids: bids.map((b) => ({ ...b, status: b.bidId === record.bidId ? 'accepted' : 'rejected' })),
        })
        directory.rememberProvider(bid.terms.provider, bid.providerPeerId)
        // the awarded provider fetches the job's files from us: keep upload slots for it to the deadline
        this.context.network.artifacts.trustPeer(bid.providerPeerId, Number(offer.terms.deadline) * 1000)
        metrics.jobsAwarded.inc()
        log.info({ jobId, provider: bid.terms.provider, price: bid.terms.price.toString() }, 'job awarded')
        return
      } catch (err) {
        // e.g. the provider's stake is no longer free: try the next bid
        log.warn({ jobId, provider: bid.terms.provider, err }, 'award to this bid failed; trying the next')
      }
    }
    await state.transitionJob(jobId, 'failed', { note: 'every award attempt failed' })
  }
}
