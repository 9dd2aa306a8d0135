/**
 * How the requester ranks bids, as pure functions (docs/node.md, "Bid selection").
 *
 * A bid is ranked by what it is expected to cost the requester, not by its price alone:
 *
 *     expected cost = price + risk × value
 *     risk          = (1 + F) / (1 + E)
 *     F             = 2 × slashed + noShows                     (failures on record; a slash was cheating)
 *     E             = completed + min(4, (collateral − minCollateral) / minCollateral)
 *     value         = the offer's maxPrice                      (what the job is worth to the requester)
 *
 * `risk` weighs the provider's failures against its evidence of work: the on-chain record,
 * with one failure assumed for every identity (a stranger counts as certain to fail until it
 * has proven otherwise), and collateral put up beyond the offer's minimum as evidence too
 * (capped, so stake alone cannot outweigh a long record). A job that dies costs the requester
 * a round of delay, valued at its maxPrice. A record of failures ranks below a stranger (a
 * slashed provider weighs 3, a stranger 1), so a cheater has no reason to keep its identity.
 *
 * What follows (price ≤ value always, since no bid above maxPrice is taken):
 * - a fresh identity never beats a provider with a clean record of n ≥ 1 jobs unless it is
 *   cheaper by more than n/(n+1) of the value: 40% under, or a 1-wei bid, do not buy a job;
 * - among fresh identities (and when no proven provider bids) the cheapest wins, so new
 *   providers enter the market; extra collateral is their way to rank above other strangers.
 *
 * A provider with a slash on record (JobMarket counts every fraud caught and every conviction
 * by the DisputeCourt) is ranked after every provider without one, whatever its price: price
 * and collateral cannot buy back a proven fraud while someone else bids. It is still awarded
 * when it is the only usable bid (the risk weight above then orders the convicted among
 * themselves).
 *
 * Bids that cannot lead to a paid job are dropped before ranking: the provider's free stake
 * below the collateral it bid (the award would revert), an ETA that does not fit before the
 * deadline, a price below the requester's floor per sample or step, an excluded no-show.
 */
import type { Bid, JobOffer } from '@ocn/protocol'

/** A provider's on-chain record, as JobMarket.getProviderRecord returns it. */
export interface ProviderRecord {
  completed: number
  slashed: number
  noShows: number
}

/** Evidence and failures are counted in thousandths, so collateral credit can be fractional. */
const UNIT = 1000n
/** collateral beyond the minimum counts as at most this many completed jobs */
const MAX_COLLATERAL_CREDIT = 4n * UNIT

/** The provider's risk weight (numerator / denominator): failures on record against evidence of work. */
export function bidRisk(
  record: ProviderRecord,
  collateral: bigint,
  minCollateral: bigint,
): { numerator: bigint; denominator: bigint } {
  const failures = UNIT * (1n + 2n * BigInt(record.slashed) + BigInt(record.noShows))
  const base = minCollateral > 0n ? minCollateral : 1n
  const extra = collateral > minCollateral ? ((collateral - minCollateral) * UNIT) / base : 0n
  const credit = extra < MAX_COLLATERAL_CREDIT ? extra : MAX_COLLATERAL_CREDIT
  const evidence = UNIT * BigInt(record.completed) + credit
  return { numerator: failures, denominator: UNIT + evidence }
}

/** The bid's expected cost to the requester, in token base units: price + risk × value. */
export function expectedCost(
  price: bigint,
  record: ProviderRecord,
  terms: { collateral: bigint; minCollateral: bigint; value: bigint },
): bigint {
  const risk = bidRisk(record, terms.collateral, terms.minCollateral)
  return price + (terms.value * risk.numerator) / risk.denominator
}

/** The units a job is priced in: samples for inference, optimizer steps for training. */
export function pricedUnits(offer: JobOffer): bigint {
  const t = offer.terms
  if (t.kind !== 1) return BigInt(t.sampleCount)
  const batch = Math.max(1, t.microBatchSize)
  return BigInt(trainingEpochs(offer) * Math.ceil(t.sampleCount / batch))
}

/** The spec's epochs (the provider prices the same way); 1 when the inline spec does not say. */
function trainingEpochs(offer: JobOffer): number {
  if (offer.spec === undefined || offer.spec.length === 0) return 1
  try {
    const epochs = (JSON.parse(new TextDecoder().decode(offer.spec)) as { epochs?: unknown }).epochs
    return typeof epochs === 'number' && Number.isInteger(epochs) && epochs > 0 ? epochs : 1
  } catch {
    return 1
  }
}

/** The lowest price the requester takes for the job: its floor per sample or step × the job's units. */
export function priceFloor(offer: JobOffer, minPricePerSample: bigint): bigint {
  return minPricePerSample * pricedUnits(offer)
}

/** What the requester knows about a bidder when it ranks: free stake and record, read on chain. */
export interface BidderStanding {
  freeStake: bigint
  record: ProviderRecord
}

export type DropReason = 'under-staked' | 'eta-too-long' | 'below-floor' | 'excluded' | 'expired' | 'self'

export interface SelectionRules {
  offer: JobOffer
  /** chain time (s) at which the award would land at the earliest */
  awardAt: bigint
  minPricePerSample: bigint
  /** lower-case addresses not taken: no-shows of earlier rounds */
  excluded: ReadonlySet<string>
}

/** Why a bid cannot be awarded, or undefined when it can be ranked. */
export function dropReason(
  bid: Bid,
  standing: BidderStanding,
  rules: SelectionRules,
): DropReason | undefined {
  const t = bid.terms
  const provider = t.provider.toLowerCase()
  if (provider === rules.offer.terms.requester.toLowerCase()) return 'self'
  if (rules.excluded.has(provider)) return 'excluded'
  if (t.expiry < rules.awardAt) return 'expired'
  // the market refuses an award when now + etaSeconds passes the deadline
  if (rules.awardAt + BigInt(t.etaSeconds) > rules.offer.terms.deadline) return 'eta-too-long'
  if (t.price < priceFloor(rules.offer, rules.minPricePerSample)) return 'below-floor'
  // the award locks the collateral from free stake: without it the award reverts
  if (standing.freeStake < t.collateral) return 'under-staked'
  return undefined
}

export interface Candidate<T> {
  item: T
  bid: Bid
  standing: BidderStanding
  receivedAt: number
}

/** Whether the provider's record shows a slash: a caught fraud or a conviction by the court. */
export function convicted(record: ProviderRecord): boolean {
  return record.slashed > 0
}

/**
 * The bids that can be awarded, best first: providers without a slash on record before the
 * convicted, then the lowest expected cost; ties go to the earlier bid.
 */
export function rankBids<T>(
  candidates: Candidate<T>[],
  rules: SelectionRules,
): { ranked: Array<Candidate<T> & { cost: bigint }>; dropped: Array<{ item: T; reason: DropReason }> } {
  const dropped: Array<{ item: T; reason: DropReason }> = []
  const ranked: Array<Candidate<T> & { cost: bigint }> = []
  const { offer } = rules
  for (const candidate of candidates) {
    const reason = dropReason(candidate.bid, candidate.standing, rules)
    if (reason !== undefined) {
      dropped.push({ item: candidate.item, reason })
      continue
    }
    const cost = expectedCost(candidate.bid.terms.price, candidate.standing.record, {
      collateral: candidate.bid.terms.collateral,
      minCollateral: offer.terms.minCollateral,
      value: offer.terms.maxPrice,
    })
    ranked.push({ ...candidate, cost })
  }
  const tier = (c: Candidate<T>) => (convicted(c.standing.record) ? 1 : 0)
  ranked.sort(
    (a, b) => tier(a) - tier(b) || (a.cost < b.cost ? -1 : a.cost > b.cost ? 1 : a.receivedAt - b.receivedAt),
  )
  return { ranked, dropped }
}
