/**
 * The gossipsub validator for OCN topics. Every message gets one verdict:
 * - reject: provably bad (oversized, undecodable, forged signature or identity binding,
 *   expired, published by a peer other than the one it names); the forwarding peer is
 *   penalised (P4), which is what graylists a flooder.
 * - ignore: not bad, just not for us now (duplicate, another chain's market, a publisher over
 *   its rate limit, an ad older than one we have); dropped without penalty, so an honest relay
 *   is never punished for our local view.
 * - accept: delivered to listeners and forwarded.
 *
 * Checks run cheapest first: size and rate limit before decoding, field checks before the
 * signature checks, so a flooder costs us little CPU.
 */
import {
  assertCapabilityAdAuthentic,
  assertIdentityBinding,
  assertJobOfferAuthentic,
  type CapabilityAd,
  decodeCapabilityAd,
  decodeJobOffer,
  type IdentityBinding,
  type JobOffer,
  jobIdOf,
  MessageSizeLimit,
  offerTiming,
  ProtocolError,
} from '@ocn/protocol'
import { BoundedMap, BoundedSet, RateLimiter } from '../core/collections.js'
import type { Logger } from '../core/logger.js'
import type { P2PMetrics } from './metrics.js'
import { CAPABILITIES_TOPIC, type GossipOptions, OFFERS_TOPIC } from './options.js'

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
}

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
  private readonly seenJobs: BoundedSet<string>
  private readonly verifiedBindings: BoundedSet<string>
  private readonly latestAds: BoundedMap<string, CapabilityAd>
  // decoded messages by payload, so accepted messages are not decoded twice
  private readonly decoded = new WeakMap<Uint8Array, JobOffer | CapabilityAd>()
  private readonly offerChecks: readonly Check<OfferCandidate>[]
  private readonly adChecks: readonly Check<AdCandidate>[]

  constructor(private readonly context: GossipValidatorContext) {
    const { options } = context
    this.limiter = new RateLimiter(options.rateLimitPerSecond, options.rateLimitBurst)
    this.seenJobs = new BoundedSet<string>(options.seenCacheSize)
    this.verifiedBindings = new BoundedSet<string>(options.bindingCacheSize)
    this.latestAds = new BoundedMap<string, CapabilityAd>(options.seenCacheSize)
    this.offerChecks = offerChecks(options)
    this.adChecks = adChecks(options, (provider) => this.latestAds.get(provider))
  }

  /** unix seconds by the injected clock */
  seconds(): number {
    return Math.floor(this.context.now() / 1000)
  }

  /** the verdict for one message; `from` is the publishing peer id (undefined: unsigned) */
  async validate(topic: string, from: string | undefined, data: Uint8Array): Promise<Validation> {
    const { log, metrics } = this.context
    let result: Validation
    try {
      result = await this.judge(topic, from, data)
    } catch (error) {
      // a bug in validation must not take the node down; treat as not-for-us
      log.warn({ err: error }, 'gossip validator failed')
      result = ignore('internal')
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
    try {
      await assertJobOfferAuthentic(offer, { verifyBinding: (binding) => this.checkBinding(binding) })
    } catch (error) {
      return rejectFor(error, 'invalid')
    }
    this.seenJobs.add(jobId)
    this.decoded.set(data, offer)
    return accept()
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
      await assertCapabilityAdAuthentic(ad, { verifyBinding: (binding) => this.checkBinding(binding) })
    } catch (error) {
      return rejectFor(error, 'invalid')
    }
    this.latestAds.set(ad.providerPeerId, ad)
    this.decoded.set(data, ad)
    return accept()
  }

  /** identity bindings rarely change: verify each one once (an ECDSA recovery + Ed25519 verify) */
  private async checkBinding(binding: IdentityBinding): Promise<void> {
    const key = `${binding.peerId}|${binding.address}|${binding.addressSignature}|${binding.peerSignature}`
    if (this.verifiedBindings.has(key)) return
    await assertIdentityBinding(binding)
    this.verifiedBindings.add(key)
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
