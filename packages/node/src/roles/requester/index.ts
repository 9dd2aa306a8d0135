/**
 * The requester role: puts a job's artifacts in the local store, publishes the signed offer,
 * collects bids for the bidding window, awards the best one (price weighed by the provider's
 * on-chain record) with escrow, fetches and checks the results once they are committed, and
 * takes the refund when the provider never commits (expire) or is caught cheating.
 *
 * Offers, bids (whole, as they arrived) and every transition are in the StateStore, so a
 * requester killed between bid collection and award awards on restart.
 *
 * The parts, each in its module: submit.ts and inputs.ts (checking and offering a job),
 * offer.ts (publishing and re-offers), award.ts (bids and the award), results.ts and
 * result-files.ts (fetching, checking and serving results), reconcile.ts (following the chain).
 */

import { RoleError } from '../errors.js'
import type { RequesterRole } from '../interface.js'
import { requireModelRegistry } from '../models.js'
import type { RequesterRoleOptions } from '../options.js'
import { createTicker, type RoleComponents } from '../shared.js'
import { RequesterAwards } from './award.js'
import { createRequesterContext } from './context.js'
import { RequesterOffers } from './offer.js'
import { RequesterReconciler } from './reconcile.js'
import { jobResults, openJobResult } from './result-files.js'
import { RequesterResultFetcher } from './results.js'
import { JobSubmitter } from './submit.js'
import { RequesterTokenStreams } from './token-stream.js'

export { NO_BID_REOFFER_NOTE } from './award.js'
export { bidRisk, expectedCost, priceFloor, rankBids } from './ranking.js'

/** gossip's default maxBiddingWindowSeconds: an offer whose bidding ends later is refused */
const MAX_OFFER_WINDOW_MS = 3_600_000

export interface RequesterRoleHandle extends RequesterRole {
  tick(): Promise<void>
}

/** The offer's bidding end (collection + award grace) must pass the gossip's check on offers. */
function checkAwardTiming(options: RequesterRoleOptions): void {
  const windowMs = options.biddingWindowMs + options.awardGraceMs
  if (windowMs > MAX_OFFER_WINDOW_MS)
    throw new RoleError(
      'ROLE_INVALID_PARAMS',
      `requester.biddingWindowMs + requester.awardGraceMs is ${windowMs} ms; peers refuse offers whose bidding ends more than ${MAX_OFFER_WINDOW_MS} ms ahead`,
      { details: 'shorten requester.biddingWindowMs or requester.awardGraceMs' },
    )
}

export function createRequesterRole(
  options: RequesterRoleOptions,
  components: RoleComponents,
): RequesterRoleHandle {
  const context = createRequesterContext(options, components)
  const { chain, network, log, timers } = context
  // offers start the award when bid collection closes, and a job left without an award is re-offered
  const offers: RequesterOffers = new RequesterOffers(context, (jobId) => awards.start(jobId))
  const awards = new RequesterAwards(context, {
    reofferLater: (job, delayMs) => offers.reofferLater(job, delayMs),
  })
  const tokens = new RequesterTokenStreams(context)
  const results = new RequesterResultFetcher(context, tokens)
  const submitter = new JobSubmitter(context, offers)
  const reconciler = new RequesterReconciler(context, {
    award: (jobId) => awards.start(jobId),
    fetchResults: (jobId) => results.start(jobId),
    reofferLater: (job, delayMs) => offers.reofferLater(job, delayMs),
    reofferDue: (jobId) => offers.reofferDue(jobId),
  })
  const ticker = createTicker(context.options.tickIntervalMs, () => reconciler.tick(), log)
  const unsubscribers: Array<() => void> = []

  return {
    role: 'requester',
    submitJob: (params) => submitter.submit(params),
    reoffer: (jobId) => offers.reoffer(jobId),
    async start() {
      checkAwardTiming(options)
      if (options.models.onlyApproved) requireModelRegistry(chain, 'requester.models.onlyApproved')
      network.bids.setBidHandler((bid) => awards.onBid(bid))
      network.tokens.setTokenHandler((batch, from) => tokens.onBatch(batch, from))
      unsubscribers.push(chain.onEvents((events) => reconciler.onEvents(events)))
      ticker.start()
    },
    async stop() {
      timers.clear()
      for (const off of unsubscribers.splice(0)) off()
      network.bids.setBidHandler(undefined)
      network.tokens.setTokenHandler(undefined)
      await ticker.stop()
      await Promise.allSettled([...awards.inProgress(), ...results.inProgress()])
    },
    offers: () => offers.open(),
    jobResults: (id) => jobResults(context, id),
    openJobResult: (id, name, callOptions) => openJobResult(context, id, name, callOptions),
    onTokens: (listener) => tokens.listen(listener),
    tick: () => ticker.now(),
  }
}
