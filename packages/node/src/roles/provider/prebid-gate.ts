/**
 * The gate before a bid: the offer's artifacts are checked (prebid.ts), and the bid waits for
 * the verdict (prebidWaitMs); a check still running then means no bid.
 * Bidding blind instead would hand the decision to the requester, who serves the artifacts
 * and so decides how long the check takes: a crafted job served slowly would get bids again.
 * The check goes on in the background (up to PREBID_CHECK_LIMIT_MS), its files land in the
 * store and its verdict is kept by the job's content, so when the requester re-offers the
 * same job after a round without bids (requester.noBidReoffers) the verdict is there at once.
 */
import type { JobOffer } from '@ocn/protocol'
import type { Hex } from 'viem'
import { BoundedMap } from '../../core/collections.js'
import type { ProviderContext } from './context.js'
import {
  checkOfferArtifacts,
  isTransientRejection,
  type PrebidOutcome,
  type PrebidReason,
  PrebidRejection,
} from './prebid.js'

/**
 * The longest a check before bidding may go on in the background after its bid decision
 * (provider.prebidTimeoutMs) has passed: long enough for a slow requester's artifacts to
 * land in the store, so a re-offer of the same job is judged at once.
 */
const PREBID_CHECK_LIMIT_MS = 60_000

/**
 * How long a bid waits for the check of its offer's files. A bid is worth sending while the
 * requester can still award it: it collects bids for its window and, on a slow network, on
 * into the award grace (requester/late-bids.ts); the market takes awards until the offer's
 * bidding end. A fixed wait shorter than that (it was provider.prebidTimeoutMs alone) threw
 * away every check that finished a moment later on a loaded machine, and the job went
 * unbid. So the wait is the first half of what is left before the bidding end (the second
 * half is the requester's, to rank and award), and never less than provider.prebidTimeoutMs.
 * Waiting longer gives up nothing the check guarantees: no bid goes out before its verdict,
 * and the wait holds no slot or stake (both are checked again before the bid).
 */
export function prebidWaitMs(biddingEnds: bigint, nowMs: number, prebidTimeoutMs: number): number {
  const leftMs = Number(biddingEnds) * 1000 - nowMs
  return Math.min(PREBID_CHECK_LIMIT_MS, Math.max(prebidTimeoutMs, Math.floor(leftMs / 2)))
}

type Verdict = PrebidOutcome | PrebidRejection

export class PrebidGate {
  // by the job's content: a re-offer of the same files shares one check
  private readonly checks = new BoundedMap<string, Promise<Verdict>>(256)
  private readonly abort = new AbortController()

  constructor(private readonly ctx: ProviderContext) {}

  /** The reason not to bid on the offer, or undefined to go on. */
  async refusal(offer: JobOffer, jobId: Hex): Promise<PrebidReason | undefined> {
    const { options } = this.ctx
    const maxBytes = options.prebidFetchMaxBytes
    if (maxBytes === 0) return undefined
    const check = this.checkFor(offer, jobId, maxBytes)
    const waitMs = prebidWaitMs(offer.terms.biddingEnds, Date.now(), options.prebidTimeoutMs)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), waitMs)
    })
    const verdict = await Promise.race([check, late]).finally(() => clearTimeout(timer))
    return this.judge(verdict, jobId, waitMs)
  }

  /** Ends the checks still running (shutdown). */
  stop(): void {
    this.abort.abort()
  }

  private checkFor(offer: JobOffer, jobId: Hex, maxBytes: number): Promise<Verdict> {
    const t = offer.terms
    const key = `${t.specHash}/${t.modelHash}/${t.inputHash}/${t.sampleCount}`.toLowerCase()
    const known = this.checks.get(key)
    if (known !== undefined) return known
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(PREBID_CHECK_LIMIT_MS)])
    const check = checkOfferArtifacts(this.ctx.components, offer, { maxBytes, signal }).catch(
      (err: unknown): Verdict => {
        if (err instanceof PrebidRejection) return err
        // no verdict (our deadline, a crashed worker, shutdown): a later offer checks again
        this.checks.delete(key)
        this.ctx.log.warn({ jobId, err }, 'the check before bidding did not finish')
        return new PrebidRejection('timeout', 'the check before bidding did not finish', { cause: err })
      },
    )
    this.checks.set(key, check)
    void check.then((verdict) => {
      // a requester that could not serve now may serve a re-offer
      if (verdict instanceof PrebidRejection && isTransientRejection(verdict.reason)) {
        if (this.checks.get(key) === check) this.checks.delete(key)
      }
    })
    return check
  }

  private judge(verdict: Verdict | 'late', jobId: Hex, waitMs: number): PrebidReason | undefined {
    const { log } = this.ctx
    if (verdict === 'late') {
      log.info(
        { jobId, timeoutMs: waitMs },
        'not bidding: the check of the artifacts did not finish in time (it goes on for a re-offer)',
      )
      return 'timeout'
    }
    if (verdict instanceof PrebidRejection) {
      log.info(
        { jobId, reason: verdict.reason, err: verdict },
        `not bidding: ${verdict.shortMessage}${verdict.details === undefined ? '' : ` (${verdict.details})`}`,
      )
      return verdict.reason
    }
    if (!verdict.checked) log.debug({ jobId, why: verdict.why }, 'artifacts not checked before bidding')
    return undefined
  }
}
