/**
 * Bids and the award: valid bids are kept whole as they arrive; when bid collection closes
 * (the award grace before the offer's bidding end) the bids that cannot lead to a paid job
 * are dropped and the rest ranked by expected cost (ranking.ts), and the best one is awarded
 * on-chain with the price in escrow, the next one tried when an award fails, all before the
 * bidding end (the market refuses later awards). A job left without an award is re-offered.
 */
import { ContractRevertError, getJob } from '@ocn/contracts-client'
import { type Bid, bidDigest, decodeBid, decodeJobOffer, encodeBid, type JobOffer } from '@ocn/protocol'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { GroupSender } from '../../chain/group-send.js'
import { BoundedSet } from '../../core/collections.js'
import type { BidDecision } from '../../p2p/bid-protocol.js'
import { type RequesterJobDetail, requesterDetail } from '../../state/job-detail.js'
import type { BidRecord, JobRecord } from '../../state/records.js'
import { RoleError } from '../errors.js'
import { describeModelStatus, unapprovedStatus } from '../models.js'
import { type AwardRequest, type AwardSent, createAwardQueue } from './award-queue.js'
import { JobRuns, jobMarket, type RequesterContext } from './context.js'
import { collectionExtensionMs, LateBids } from './late-bids.js'
import { reofferDuePatch } from './offer.js'
import { type Candidate, priceFloor, rankBids } from './ranking.js'
import { BidderStandings } from './standing.js'

/** the longest pause before a re-offer after a round without bids */
const MAX_REOFFER_DELAY_MS = 60_000

/** The note on a job that failed without a bid and is offered again automatically. */
export const NO_BID_REOFFER_NOTE = 'no usable bid; re-offered'

/**
 * Seconds before the offer's bidding end after which no award is sent: the transaction lands
 * in a later block, and the market refuses an award whose block is past the bidding end.
 */
export const AWARD_MARGIN_SECONDS = 2n

/** A bid as the requester stores it: the record plus the signed bid's wire bytes. */
type StoredBid = BidRecord & { wire: Hex }

function isStoredBid(bid: BidRecord): bid is StoredBid {
  return 'wire' in bid && Boolean(bid.wire)
}

type RankedBid = Candidate<StoredBid> & { cost: bigint }

/** What the awards ask of the re-offer machinery when a job is left without an award. */
export interface AwardFollowUps {
  /** offers the dead job again after `delayMs`, unless its retry budget is spent (then false) */
  reofferLater(job: JobRecord, delayMs: number): Promise<boolean>
}

export class RequesterAwards {
  private readonly runs = new JobRuns()
  private readonly standings: BidderStandings
  /** bids refused because their job's collection had closed: the network is slow (late-bids.ts) */
  private readonly lateBids = new LateBids()
  /** jobs whose bid collection was extended after a round without a usable bid */
  private readonly extended = new BoundedSet<string>(1024)
  /** every award goes through it: awards ready at once share a transaction */
  private readonly sender: GroupSender<AwardRequest, AwardSent>

  constructor(
    private readonly context: RequesterContext,
    private readonly followUps: AwardFollowUps,
  ) {
    this.standings = new BidderStandings(context, () => context.options.biddingWindowMs)
    this.sender = createAwardQueue(context)
  }

  /**
   * The bid protocol's handler: keeps a bid that fits the offer while its bidding is open.
   * What needs no chain read is refused here (price floor, ETA, excluded no-shows); the free
   * stake is read when bidding closes, once per provider.
   */
  async onBid(bid: Bid): Promise<BidDecision> {
    const { state, chain, metrics, directory, options } = this.context
    const job = await state.getJob(bid.terms.jobId)
    if (job === undefined || job.role !== 'requester') return { accepted: false, reason: 'unknown-job' }
    const detail = requesterDetail(job)
    if (job.state !== 'bidding' || Date.now() > detail.biddingClosesAt) {
      // a bid for a round that closed without an award came too late: evidence of a slow network
      if (job.state === 'bidding' || job.state === 'failed') this.lateBids.note()
      return { accepted: false, reason: 'bidding-closed' }
    }
    const offer = decodeJobOffer(hexToBytes(detail.offer))
    if (bid.terms.price > offer.terms.maxPrice) return { accepted: false, reason: 'price-too-high' }
    if (bid.terms.collateral < offer.terms.minCollateral)
      return { accepted: false, reason: 'collateral-too-low' }
    if (bid.terms.expiry <= offer.terms.biddingEnds) return { accepted: false, reason: 'expired' }
    // absurd prices, ETAs past the deadline and excluded no-shows could never be awarded
    if (
      bid.terms.price < priceFloor(offer, options.minPricePerSample) ||
      offer.terms.biddingEnds + BigInt(bid.terms.etaSeconds) > offer.terms.deadline ||
      (detail.excludedProviders ?? []).includes(bid.terms.provider.toLowerCase())
    )
      return { accepted: false, reason: 'invalid-bid' }
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
    // collection was kept open only for want of a bid: award as soon as one comes
    if (this.extended.has(job.id)) this.start(job.id)
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
    if (!awardFits(now, offer)) return this.noAward(job, bids, 'bidding ended before the award')
    const ranked = await this.rank(jobId, offer, detail, bids, now)
    if (ranked.length === 0 && (await this.extendCollection(job, detail, offer, now))) return
    if (ranked.length === 0) return this.noUsableBid(job, bids)
    if (options.models.onlyApproved && (await this.modelRevoked(jobId, offer, bids))) return
    await this.awardBest(job, offer, ranked, bids)
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
        detail: {
          ...detail,
          ...(winner?.peerId === undefined ? {} : { providerPeerId: winner.peerId }),
          noShowAt: this.noShowAt(winner?.etaMs ?? 0),
        },
      },
      note: 'award found on-chain after restart',
    })
  }

  /** The bids that can be awarded, best first; the others are logged with why they were dropped. */
  private async rank(
    jobId: string,
    offer: JobOffer,
    detail: RequesterJobDetail,
    bids: StoredBid[],
    now: bigint,
  ): Promise<RankedBid[]> {
    const { log, options } = this.context
    const candidates = await Promise.all(
      bids.map(async (item) => {
        const bid = decodeBid(hexToBytes(item.wire))
        const standing = await this.standings.standing(bid.terms.provider)
        return { item, bid, standing, receivedAt: item.receivedAt }
      }),
    )
    const { ranked, dropped } = rankBids(candidates, {
      offer,
      awardAt: now + AWARD_MARGIN_SECONDS,
      minPricePerSample: options.minPricePerSample,
      excluded: new Set(detail.excludedProviders ?? []),
    })
    for (const { item, reason } of dropped)
      log.info({ jobId, provider: item.provider, reason }, 'bid dropped')
    return ranked
  }

  /**
   * No usable bid at the close, on a network whose bids have lately come late: bids are
   * collected on (late-bids.ts) instead of spending a re-offer. Returns whether it extended.
   */
  private async extendCollection(
    job: JobRecord,
    detail: RequesterJobDetail,
    offer: JobOffer,
    chainNow: bigint,
  ): Promise<boolean> {
    const { state, options, timers, log } = this.context
    const ms = collectionExtensionMs({
      lateBidsSeen: this.lateBids.seenRecently(),
      extendedBefore: this.extended.has(job.id),
      chainNow,
      biddingEnds: offer.terms.biddingEnds,
      awardGraceMs: options.awardGraceMs,
      awardMarginSeconds: AWARD_MARGIN_SECONDS,
    })
    if (ms === 0) return false
    this.extended.add(job.id)
    // persisted: the tick awards (or fails) the job at the new close after a restart too
    await state.updateJob(job.id, { detail: { ...detail, biddingClosesAt: Date.now() + ms } })
    timers.after(ms, () => this.start(job.id))
    log.info({ jobId: job.id, extensionMs: ms }, 'no usable bid yet and bids have come late: collecting on')
    return true
  }

  /** No bid can be awarded: the job fails and is offered again while its retry budget lasts. */
  private async noUsableBid(job: JobRecord, bids: StoredBid[]): Promise<void> {
    const { state, options, log } = this.context
    // Every provider may just be busy: offer it again a few times (a new offer, a new id)
    // before giving up, so one crowded moment does not fail the requester's work. The pause
    // doubles each round: a provider's check of new artifacts goes on in the background and
    // its verdict is ready for the re-offer, but on a loaded machine it needs the time.
    const delay = Math.min(
      options.noBidReofferDelayMs * 2 ** Math.max(0, job.attempts - 1),
      MAX_REOFFER_DELAY_MS,
    )
    const again = job.attempts <= options.noBidReoffers
    await state.transitionJob(job.id, 'failed', {
      note: again ? `${NO_BID_REOFFER_NOTE} in ${delay} ms` : 'no usable bid',
      bids: bids.map((b) => ({ ...b, status: 'rejected' })),
      ...reofferDuePatch(await state.requireJob(job.id), options.noBidReoffers, delay),
    })
    if (!(await this.followUps.reofferLater(await state.requireJob(job.id), delay)))
      log.warn({ jobId: job.id, attempts: job.attempts }, 'no bids: job failed (re-offer it)')
  }

  /** Bids there were, but no award landed in time: fail the job and offer it again at once. */
  private async noAward(job: JobRecord, bids: StoredBid[], why: string): Promise<void> {
    const { state, log } = this.context
    const { noBidReoffers } = this.context.options
    const again = job.attempts <= noBidReoffers
    const failed = await state.transitionJob(job.id, 'failed', {
      note: again ? `${why}; re-offered` : why,
      bids: bids.map((b) => ({ ...b, status: b.status === 'accepted' ? 'accepted' : 'rejected' })),
      ...reofferDuePatch(await state.requireJob(job.id), noBidReoffers, 0),
    })
    log.warn({ jobId: job.id, why }, 'job not awarded')
    await this.followUps.reofferLater(failed, 0)
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

  /**
   * The market reverted the award with ModelRevoked (the registry revoked the model after the
   * offer went out, whatever requester.models.onlyApproved says): the job fails for good, since
   * every re-offer of the same model would be refused the same way.
   */
  private async marketRefusedModel(job: JobRecord, offer: JobOffer, bids: StoredBid[]): Promise<void> {
    const { state, metrics, log } = this.context
    metrics.unapprovedModelJobs.inc({ stage: 'award', status: 'revoked' })
    await state.transitionJob(job.id, 'failed', {
      note: `not awarded: the market refused model ${offer.terms.modelHash} (ModelRevoked); not re-offered`,
      bids: bids.map((b) => ({ ...b, status: 'rejected' })),
    })
    log.warn({ jobId: job.id, modelHash: offer.terms.modelHash }, 'market refused the model: job not awarded')
  }

  /**
   * Awards the best bid on-chain, trying the next when an award fails, while an award can
   * still land before the bidding end; a bid that neither the market balance nor the wallet
   * can escrow (read right before its award, allowance.ts `prepareEscrow`) is skipped.
   */
  private async awardBest(
    job: JobRecord,
    offer: JobOffer,
    ranked: RankedBid[],
    bids: StoredBid[],
  ): Promise<void> {
    const { log } = this.context
    let tried = 0
    let unaffordable = 0
    for (const { item, bid } of ranked) {
      if (!awardFits(await this.context.chain.chainTime(), offer)) break
      tried++
      try {
        await this.awardOne(job, offer, item, bid, bids)
        return
      } catch (err) {
        // the market refuses the model itself: no other bid and no re-offer can be awarded
        if (err instanceof ContractRevertError && err.errorName === 'ModelRevoked') {
          await this.marketRefusedModel(job, offer, bids)
          return
        }
        if (err instanceof RoleError && err.code === 'ROLE_INSUFFICIENT_BALANCE') {
          log.warn(
            { jobId: job.id, price: bid.terms.price.toString(), details: err.details },
            'balance too low to escrow this bid (wallet and market balance); trying the next',
          )
          unaffordable++
          continue
        }
        // e.g. the provider's stake was locked by another award meanwhile: try the next bid
        log.warn(
          { jobId: job.id, provider: bid.terms.provider, err },
          'award to this bid failed; trying the next',
        )
      }
    }
    // the reason names what happened: a loop that stopped for time is not 'every attempt failed'
    const why =
      tried === 0
        ? 'bidding ended before the award'
        : unaffordable === ranked.length
          ? 'neither the wallet nor the market balance covers any bid (get OPEN or `ocn market deposit`)'
          : tried < ranked.length
            ? `bidding ended after ${tried} failed award attempt(s) of ${ranked.length} bids`
            : 'every award attempt failed'
    await this.noAward(job, bids, why)
  }

  private async awardOne(job: JobRecord, offer: JobOffer, item: StoredBid, bid: Bid, bids: StoredBid[]) {
    const { state, metrics, log, directory } = this.context
    // alone, or in one transaction with the awards that became ready beside it (award-queue.ts)
    const { hash, sources } = await this.sender.submit({ jobId: job.id, offer, bid })
    const source = sources.get(job.id)
    this.standings.locked(bid.terms.provider, bid.terms.collateral)
    await state.transitionJob(job.id, 'awarded', {
      txHash: hash,
      patch: {
        provider: bid.terms.provider,
        price: bid.terms.price,
        collateral: bid.terms.collateral,
        detail: {
          ...requesterDetail(job),
          providerPeerId: bid.providerPeerId,
          noShowAt: this.noShowAt(bid.terms.etaSeconds * 1000),
        },
      },
      bids: bids.map((b) => ({ ...b, status: b.bidId === item.bidId ? 'accepted' : 'rejected' })),
    })
    directory.rememberProvider(bid.terms.provider, bid.providerPeerId)
    // the awarded provider fetches the job's files from us: keep upload slots for it to the deadline
    this.context.network.artifacts.trustPeer(bid.providerPeerId, Number(offer.terms.deadline) * 1000)
    metrics.jobsAwarded.inc()
    log.info(
      { jobId: job.id, provider: bid.terms.provider, price: bid.terms.price.toString(), paidFrom: source },
      'job awarded',
    )
  }

  /** When a provider awarded now with this ETA counts as a no-show if it has not committed. */
  private noShowAt(etaMs: number): number {
    return Date.now() + etaMs + this.context.options.noShowGraceMs
  }
}

/** Whether an award sent at chain time `now` still lands before the offer's bidding end. */
export function awardFits(now: bigint, offer: JobOffer): boolean {
  return now + AWARD_MARGIN_SECONDS <= offer.terms.biddingEnds && now < offer.terms.deadline
}
