/**
 * The gossipsub validator for OCN topics. Every message gets one verdict:
 * - reject: provably bad (oversized, undecodable, forged signature or identity binding,
 *   expired, published by a peer other than the one it names); the forwarding peer is
 *   penalised (P4), which is what graylists a flooder.
 * - ignore: not bad, just not for us now (duplicate, another chain's market, a publisher over
 *   its rate limit, an ad older than one we have, a requester whose balance does not cover
 *   its maxPrice); dropped without penalty, so an honest relay is never punished for one
 *   message seen from our local view. But ignores are not free: each forwarding peer has an
 *   ignore budget (a token bucket), and past it its not-for-us messages are rejected
 *   (`ignore-flood`), so a flood of other-chain or over-limit offers graylists the flooder
 *   (issue 13: 10,800 such messages in 30 s cost each node 8-9 CPU-seconds and nothing else).
 * - accept: delivered to listeners and forwarded.
 *
 * Checks run cheapest first: size and rate limit before decoding, field checks (chain id,
 * market, timing) before the signature checks, signature verdicts cached per offer id and
 * signature, and the requester's on-chain funds (cached per requester) last.
 */
import {
  assertCapabilityAdAuthentic,
  assertJobOfferAuthentic,
  type CapabilityAd,
  decodeCapabilityAd,
  decodeJobOffer,
  type JobOffer,
  jobIdOf,
  MessageSizeLimit,
  offerTiming,
  ProtocolError,
} from '@ocn/protocol'
import type { Hex } from 'viem'
import { BoundedMap, BoundedSet, RateLimiter } from '../core/collections.js'
import type { Logger } from '../core/logger.js'
import type { P2PMetrics } from './metrics.js'
import { CAPABILITIES_TOPIC, type GossipOptions, OFFERS_TOPIC } from './options.js'
import type { RequesterFunds } from './requester-funds.js'
import { VerifiedBindings } from './verified-bindings.js'

export type Verdict = 'accept' | 'ignore' | 'reject'

export interface Validation {
  verdict: Verdict
  /** stable reason label (metrics, logs) */
  reason: string
}

export interface GossipValidatorContext {
  options: GossipOptions
  /** clock in milliseconds */
  now: () => number
  log: Logger
  metrics: P2PMetrics
  /** the requester's on-chain funds; without it offers are not checked against them */
  funds?: RequesterFunds
}

/** ignores that say nothing about the sender (our own failure): they never spend its budget */
const uncountedIgnores = new Set(['internal', 'funds-unknown'])

const reject = (reason: string): Validation => ({ verdict: 'reject', reason })
const ignore = (reason: string): Validation => ({ verdict: 'ignore', reason })
const accept = (): Validation => ({ verdict: 'accept', reason: 'valid' })

/** A check returns the verdict that stops the message, or undefined to pass it on. */
type Check<T> = (candidate: T) => Validation | undefined

function firstFailure<T>(checks: readonly Check<T>[], candidate: T): Validation | undefined {
  for (const check of checks) {
    const failure = check(candidate)
    if (failure !== undefined) return failure
  }
  return undefined
}

/** a decoding or signature failure as a reject, labelled with the protocol's error code */
function rejectFor(error: unknown, fallback: string): Validation {
  return reject(error instanceof ProtocolError ? error.code : fallback)
}

interface OfferCandidate {
  offer: JobOffer
  from: string
  /** unix seconds */
  now: number
}

interface AdCandidate {
  ad: CapabilityAd
  from: string
  now: number
}

export class GossipValidator {
  private readonly limiter: RateLimiter
  private readonly ignoreBudget: RateLimiter
  /** signature verdicts by offer id and signature: a replayed forgery costs no recovery */
  private readonly signatureVerdicts: BoundedMap<string, Validation>
  private readonly seenJobs: BoundedSet<string>
  private readonly verifiedBindings: VerifiedBindings
  private readonly latestAds: BoundedMap<string, CapabilityAd>
  // decoded messages by payload, so accepted messages are not decoded twice
  private readonly decoded = new WeakMap<Uint8Array, JobOffer | CapabilityAd>()
  // accepted offers' job ids by payload: the struct hash is computed once per offer (~90 µs)
  private readonly jobIds = new WeakMap<Uint8Array, Hex>()
  private readonly offerChecks: readonly Check<OfferCandidate>[]
  private readonly adChecks: readonly Check<AdCandidate>[]

  constructor(private readonly context: GossipValidatorContext) {
    const { options } = context
    this.limiter = new RateLimiter(options.rateLimitPerSecond, options.rateLimitBurst)
    this.ignoreBudget = new RateLimiter(options.ignoreBudgetPerSecond, options.ignoreBudgetBurst)
    this.signatureVerdicts = new BoundedMap(options.signatureCacheSize)
    this.seenJobs = new BoundedSet<string>(options.seenCacheSize)
    this.verifiedBindings = new VerifiedBindings(options.bindingCacheSize)
    this.latestAds = new BoundedMap<string, CapabilityAd>(options.seenCacheSize)
    this.offerChecks = offerChecks(options)
    this.adChecks = adChecks(options, (provider) => this.latestAds.get(provider))
  }

  /** unix seconds by the injected clock */
  seconds(): number {
    return Math.floor(this.context.now() / 1000)
  }

  /**
   * The verdict for one message; `from` is the publishing peer id (undefined: unsigned),
   * `source` the peer that forwarded it to us (whose ignore budget it spends; `from` when absent).
   */
  async validate(
    topic: string,
    from: string | undefined,
    data: Uint8Array,
    source: string | undefined = from,
  ): Promise<Validation> {
    const { log, metrics } = this.context
    let result: Validation
    try {
      result = await this.judge(topic, from, data)
    } catch (error) {
      // a bug in validation must not take the node down; treat as not-for-us
      log.warn({ err: error }, 'gossip validator failed')
      result = ignore('internal')
    }
    if (result.verdict === 'ignore' && source !== undefined && !uncountedIgnores.has(result.reason)) {
      if (!this.ignoreBudget.tryTake(source, this.context.now())) {
        metrics.gossipEscalations.inc({ topic })
        result = reject('ignore-flood')
      }
    }
    metrics.gossipValidations.inc({ topic, verdict: result.verdict, reason: result.reason })
    if (result.verdict !== 'accept') log.debug({ topic, from, ...result }, 'gossip message not accepted')
    return result
  }

  /** our own offer counts as seen: peers echoing it back are duplicates */
  markJobSeen(jobId: string): void {
    this.seenJobs.add(jobId)
  }

  /** the offer an accepted message carries, decoded once */
  offerOf(data: Uint8Array): JobOffer {
    return (this.decoded.get(data) as JobOffer | undefined) ?? decodeJobOffer(data)
  }

  /** the job id of an offer this validator accepted (computed once), or of any offer payload */
  jobIdOf(data: Uint8Array, offer: JobOffer = this.offerOf(data)): Hex {
    return this.jobIds.get(data) ?? jobIdOf(offer.terms)
  }

  /** the ad an accepted message carries, decoded once */
  adOf(data: Uint8Array): CapabilityAd {
    return (this.decoded.get(data) as CapabilityAd | undefined) ?? decodeCapabilityAd(data)
  }

  /** the newest unexpired ad of every provider heard from */
  currentAds(): CapabilityAd[] {
    const t = this.seconds()
    return [...this.latestAds.values()].filter((ad) => ad.expiresAt > t)
  }

  private async judge(topic: string, from: string | undefined, data: Uint8Array): Promise<Validation> {
    // unsigned messages cannot be attributed; StrictSign already refuses them, this is belt and braces
    if (from === undefined) return reject('unsigned')
    const limit = topic === OFFERS_TOPIC ? MessageSizeLimit.jobOffer : MessageSizeLimit.capabilityAd
    if (data.length > limit) return reject('too-large')
    // before any signature check: the rate limit is what bounds our CPU per peer
    if (!this.limiter.tryTake(`${topic}|${from}`, this.context.now())) return ignore('rate-limited')
    if (topic === OFFERS_TOPIC) return this.validateOffer(from, data)
    if (topic === CAPABILITIES_TOPIC) return this.validateAd(from, data)
    return reject('unknown-topic')
  }

  private async validateOffer(from: string, data: Uint8Array): Promise<Validation> {
    let offer: JobOffer
    try {
      offer = decodeJobOffer(data)
    } catch (error) {
      return rejectFor(error, 'malformed')
    }
    const failure = firstFailure(this.offerChecks, { offer, from, now: this.seconds() })
    if (failure !== undefined) return failure
    const jobId = jobIdOf(offer.terms)
    if (this.seenJobs.has(jobId)) return ignore('duplicate')
    const signed = await this.offerSignature(jobId, offer)
    if (signed !== undefined) return signed
    const funded = await this.offerFunded(offer)
    if (funded !== undefined) return funded
    this.seenJobs.add(jobId)
    this.decoded.set(data, offer)
    this.jobIds.set(data, jobId)
    return accept()
  }

  /** the offer's signature and identity binding, verified once per offer id and signature */
  private async offerSignature(jobId: Hex, offer: JobOffer): Promise<Validation | undefined> {
    const key = `${jobId}|${offer.signature}|${offer.requesterPeerId}`
    const cached = this.signatureVerdicts.get(key)
    if (cached !== undefined) return cached.verdict === 'accept' ? undefined : cached
    let verdict: Validation
    try {
      // the job id is the offer's struct hash: given, the EIP-712 digest does not hash the struct again
      await assertJobOfferAuthentic(offer, {
        jobId,
        verifyBinding: (binding) => this.verifiedBindings.check(binding),
      })
      verdict = accept()
    } catch (error) {
      verdict = rejectFor(error, 'invalid')
    }
    this.signatureVerdicts.set(key, verdict)
    return verdict.verdict === 'accept' ? undefined : verdict
  }

  /** the requester's on-chain balance (and allowance, if required) covers the offered maxPrice */
  private async offerFunded(offer: JobOffer): Promise<Validation | undefined> {
    const { funds } = this.context
    if (funds === undefined) return undefined
    const verdict = await funds.covers(offer.terms.requester, offer.terms.maxPrice)
    if (verdict === 'covered') return undefined
    return ignore(verdict === 'unknown' ? 'funds-unknown' : `unfunded-${verdict}`)
  }

  /** entries held by each cache (all bounded): for tests and diagnostics after a flood */
  cacheSizes(): Record<string, number> {
    return {
      seenJobs: this.seenJobs.size,
      verifiedBindings: this.verifiedBindings.size,
      latestAds: this.latestAds.size,
      signatureVerdicts: this.signatureVerdicts.size,
      requesterFunds: this.context.funds?.size ?? 0,
    }
  }

  private async validateAd(from: string, data: Uint8Array): Promise<Validation> {
    let ad: CapabilityAd
    try {
      ad = decodeCapabilityAd(data)
    } catch (error) {
      return rejectFor(error, 'malformed')
    }
    const failure = firstFailure(this.adChecks, { ad, from, now: this.seconds() })
    if (failure !== undefined) return failure
    try {
      await assertCapabilityAdAuthentic(ad, {
        verifyBinding: (binding) => this.verifiedBindings.check(binding),
      })
    } catch (error) {
      return rejectFor(error, 'invalid')
    }
    this.latestAds.set(ad.providerPeerId, ad)
    this.decoded.set(data, ad)
    return accept()
  }
}

/** the field checks of an offer, before its duplicate and signature checks */
function offerChecks(options: GossipOptions): Check<OfferCandidate>[] {
  return [
    ({ offer, from }) => (offer.requesterPeerId !== from ? reject('publisher-mismatch') : undefined),
    ({ offer }) =>
      options.chainId !== undefined && offer.chainId !== options.chainId ? ignore('other-chain') : undefined,
    ({ offer }) =>
      options.market !== undefined && offer.market.toLowerCase() !== options.market.toLowerCase()
        ? ignore('other-market')
        : undefined,
    ({ offer, now }) => {
      const timing = offerTiming(offer, {
        now,
        clockSkewSeconds: options.clockSkewSeconds,
        maxBiddingWindowSeconds: options.maxBiddingWindowSeconds,
      })
      return timing !== 'open' ? reject(timing) : undefined
    },
  ]
}

/** the field checks of an ad, before its signature check */
function adChecks(
  options: GossipOptions,
  latestAd: (provider: string) => CapabilityAd | undefined,
): Check<AdCandidate>[] {
  return [
    ({ ad, from }) => (ad.providerPeerId !== from ? reject('publisher-mismatch') : undefined),
    ({ ad, now }) => (ad.expiresAt + options.clockSkewSeconds <= now ? reject('expired') : undefined),
    ({ ad, now }) => (ad.issuedAt > now + options.clockSkewSeconds ? reject('from-the-future') : undefined),
    ({ ad }) => {
      const previous = latestAd(ad.providerPeerId)
      return previous !== undefined && previous.issuedAt >= ad.issuedAt ? ignore('stale') : undefined
    },
  ]
}
