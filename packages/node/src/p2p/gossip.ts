/**
 * OCN gossip: job offers on `/ocn/offers/1` and capability ads on `/ocn/capabilities/1`.
 *
 * Every incoming message passes a validator that returns one gossipsub verdict:
 * - reject: the message is provably bad (oversized, undecodable, forged signature or
 *   identity binding, expired, published by a peer other than the one it names). The
 *   peer that forwarded it is penalised (P4), which is what graylists a flooder.
 * - ignore: not bad, just not for us now (duplicate, another chain's market, a publisher
 *   over its rate limit, an ad older than one we have). Dropped without penalty, so an
 *   honest relay is never punished for our local view.
 * - accept: delivered to listeners and forwarded.
 */
import type { Message } from '@libp2p/gossipsub'
import {
  assertCapabilityAdAuthentic,
  assertIdentityBinding,
  assertJobOfferAuthentic,
  type CapabilityAd,
  decodeCapabilityAd,
  decodeJobOffer,
  encodeCapabilityAd,
  encodeJobOffer,
  type IdentityBinding,
  type JobOffer,
  jobIdOf,
  MessageSizeLimit,
  offerTiming,
  ProtocolError,
} from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'
import { BoundedMap, BoundedSet, RateLimiter } from '../core/collections.js'
import type { Logger } from '../core/logger.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { OcnHost } from './host.js'
import { createP2PMetrics } from './metrics.js'
import { CAPABILITIES_TOPIC, defaultGossipOptions, type GossipOptions, OFFERS_TOPIC } from './options.js'

export type Verdict = 'accept' | 'ignore' | 'reject'

export interface Validation {
  verdict: Verdict
  /** stable reason label (metrics, logs) */
  reason: string
}

export interface ReceivedOffer {
  offer: JobOffer
  jobId: Hex
  /** the peer that published it (equals offer.requesterPeerId) */
  publisher: string
}

export interface ReceivedCapabilityAd {
  ad: CapabilityAd
  publisher: string
}

export interface GossipServiceComponents {
  host: OcnHost
  logger: Logger
  registry?: Registry
  /** clock in milliseconds; injectable for tests */
  now?: () => number
}

export interface GossipService {
  start(): Promise<void>
  stop(): Promise<void>
  /** validates our own offer as a peer would, then publishes it; returns the job id */
  publishOffer(offer: JobOffer): Promise<{ jobId: Hex; recipients: number }>
  publishCapabilityAd(ad: CapabilityAd): Promise<{ recipients: number }>
  onOffer(listener: (event: ReceivedOffer) => void): () => void
  onCapabilityAd(listener: (event: ReceivedCapabilityAd) => void): () => void
  /** the newest unexpired ad of every provider heard from */
  capabilityAds(): CapabilityAd[]
  /** the validator itself, for direct tests; `from` is the publishing peer id */
  validate(topic: string, from: string | undefined, data: Uint8Array): Promise<Validation>
}

export type GossipServiceInit = Partial<GossipOptions>

const REJECT = 'reject' as const
const IGNORE = 'ignore' as const

export function createGossipService(
  init: GossipServiceInit,
  components: GossipServiceComponents,
): GossipService {
  const options: GossipOptions = { ...defaultGossipOptions }
  for (const [k, v] of Object.entries(init))
    if (v !== undefined) (options as unknown as Record<string, unknown>)[k] = v
  const { host } = components
  const now = components.now ?? Date.now
  const log = components.logger.child({ component: 'gossip' })
  const metrics = createP2PMetrics(components.registry)
  const pubsub = host.services.pubsub
  const limiter = new RateLimiter(options.rateLimitPerSecond, options.rateLimitBurst)
  const seenJobs = new BoundedSet<string>(options.seenCacheSize)
  const verifiedBindings = new BoundedSet<string>(options.bindingCacheSize)
  const latestAds = new BoundedMap<string, CapabilityAd>(options.seenCacheSize)
  // decoded messages by payload, so accepted messages are not decoded twice
  const decoded = new WeakMap<Uint8Array, JobOffer | CapabilityAd>()
  const offerListeners = new Set<(e: ReceivedOffer) => void>()
  const adListeners = new Set<(e: ReceivedCapabilityAd) => void>()
  let started = false

  const seconds = () => Math.floor(now() / 1000)

  /** identity bindings rarely change: verify each one once (an ECDSA recovery + Ed25519 verify) */
  async function checkBindingCached(binding: IdentityBinding): Promise<void> {
    const key = `${binding.peerId}|${binding.address}|${binding.addressSignature}|${binding.peerSignature}`
    if (verifiedBindings.has(key)) return
    await assertIdentityBinding(binding)
    verifiedBindings.add(key)
  }

  async function validateOffer(from: string, data: Uint8Array): Promise<Validation> {
    let offer: JobOffer
    try {
      offer = decodeJobOffer(data)
    } catch (error) {
      return { verdict: REJECT, reason: error instanceof ProtocolError ? error.code : 'malformed' }
    }
    if (offer.requesterPeerId !== from) return { verdict: REJECT, reason: 'publisher-mismatch' }
    if (options.chainId !== undefined && offer.chainId !== options.chainId) {
      return { verdict: IGNORE, reason: 'other-chain' }
    }
    if (options.market !== undefined && offer.market.toLowerCase() !== options.market.toLowerCase()) {
      return { verdict: IGNORE, reason: 'other-market' }
    }
    const timing = offerTiming(offer, {
      now: seconds(),
      clockSkewSeconds: options.clockSkewSeconds,
      maxBiddingWindowSeconds: options.maxBiddingWindowSeconds,
    })
    if (timing !== 'open') return { verdict: REJECT, reason: timing }
    const jobId = jobIdOf(offer.terms)
    if (seenJobs.has(jobId)) return { verdict: IGNORE, reason: 'duplicate' }
    try {
      await assertJobOfferAuthentic(offer, { verifyBinding: checkBindingCached })
    } catch (error) {
      return { verdict: REJECT, reason: error instanceof ProtocolError ? error.code : 'invalid' }
    }
    seenJobs.add(jobId)
    decoded.set(data, offer)
    return { verdict: 'accept', reason: 'valid' }
  }

  async function validateAd(from: string, data: Uint8Array): Promise<Validation> {
    let ad: CapabilityAd
    try {
      ad = decodeCapabilityAd(data)
    } catch (error) {
      return { verdict: REJECT, reason: error instanceof ProtocolError ? error.code : 'malformed' }
    }
    if (ad.providerPeerId !== from) return { verdict: REJECT, reason: 'publisher-mismatch' }
    const t = seconds()
    if (ad.expiresAt + options.clockSkewSeconds <= t) return { verdict: REJECT, reason: 'expired' }
    if (ad.issuedAt > t + options.clockSkewSeconds) return { verdict: REJECT, reason: 'from-the-future' }
    const previous = latestAds.get(ad.providerPeerId)
    if (previous !== undefined && previous.issuedAt >= ad.issuedAt)
      return { verdict: IGNORE, reason: 'stale' }
    try {
      await assertCapabilityAdAuthentic(ad, { verifyBinding: checkBindingCached })
    } catch (error) {
      return { verdict: REJECT, reason: error instanceof ProtocolError ? error.code : 'invalid' }
    }
    latestAds.set(ad.providerPeerId, ad)
    decoded.set(data, ad)
    return { verdict: 'accept', reason: 'valid' }
  }

  async function judge(topic: string, from: string | undefined, data: Uint8Array): Promise<Validation> {
    // unsigned messages cannot be attributed; StrictSign already refuses them, this is belt and braces
    if (from === undefined) return { verdict: REJECT, reason: 'unsigned' }
    const limit = topic === OFFERS_TOPIC ? MessageSizeLimit.jobOffer : MessageSizeLimit.capabilityAd
    if (data.length > limit) return { verdict: REJECT, reason: 'too-large' }
    // before any signature check: the rate limit is what bounds our CPU per peer
    if (!limiter.tryTake(`${topic}|${from}`, now())) return { verdict: IGNORE, reason: 'rate-limited' }
    if (topic === OFFERS_TOPIC) return validateOffer(from, data)
    if (topic === CAPABILITIES_TOPIC) return validateAd(from, data)
    return { verdict: REJECT, reason: 'unknown-topic' }
  }

  async function validate(topic: string, from: string | undefined, data: Uint8Array): Promise<Validation> {
    let result: Validation
    try {
      result = await judge(topic, from, data)
    } catch (error) {
      // a bug in validation must not take the node down; treat as not-for-us
      log.warn({ err: error }, 'gossip validator failed')
      result = { verdict: IGNORE, reason: 'internal' }
    }
    metrics.gossipValidations.inc({ topic, verdict: result.verdict, reason: result.reason })
    if (result.verdict !== 'accept') log.debug({ topic, from, ...result }, 'gossip message not accepted')
    return result
  }

  function validatorFor(topic: string) {
    return async (_propagationSource: unknown, msg: Message) => {
      const result = await validate(topic, msg.type === 'signed' ? msg.from.toString() : undefined, msg.data)
      return result.verdict as never
    }
  }

  function onMessage(event: CustomEvent<Message>): void {
    const msg = event.detail
    if (msg.type !== 'signed') return
    const publisher = msg.from.toString()
    try {
      if (msg.topic === OFFERS_TOPIC) {
        const offer = (decoded.get(msg.data) as JobOffer | undefined) ?? decodeJobOffer(msg.data)
        const event: ReceivedOffer = { offer, jobId: jobIdOf(offer.terms), publisher }
        for (const listener of offerListeners) listener(event)
      } else if (msg.topic === CAPABILITIES_TOPIC) {
        const ad = (decoded.get(msg.data) as CapabilityAd | undefined) ?? decodeCapabilityAd(msg.data)
        for (const listener of adListeners) listener({ ad, publisher })
      }
    } catch (error) {
      log.warn({ err: error }, 'gossip listener failed')
    }
  }

  async function publish(topic: string, data: Uint8Array): Promise<number> {
    if (!started) throw new P2PError(P2PErrorCode.NOT_STARTED, 'gossip service not started')
    try {
      const result = await pubsub.publish(topic, data)
      return result.recipients.length
    } catch (cause) {
      throw new P2PError(P2PErrorCode.PUBLISH_FAILED, `cannot publish on ${topic}`, { cause })
    }
  }

  return {
    async start() {
      pubsub.topicValidators.set(OFFERS_TOPIC, validatorFor(OFFERS_TOPIC))
      pubsub.topicValidators.set(CAPABILITIES_TOPIC, validatorFor(CAPABILITIES_TOPIC))
      pubsub.addEventListener('message', onMessage)
      pubsub.subscribe(OFFERS_TOPIC)
      pubsub.subscribe(CAPABILITIES_TOPIC)
      started = true
    },
    async stop() {
      started = false
      pubsub.removeEventListener('message', onMessage)
      try {
        pubsub.unsubscribe(OFFERS_TOPIC)
        pubsub.unsubscribe(CAPABILITIES_TOPIC)
      } catch {
        // the host may already be stopping
      }
      pubsub.topicValidators.delete(OFFERS_TOPIC)
      pubsub.topicValidators.delete(CAPABILITIES_TOPIC)
    },
    async publishOffer(offer) {
      if (offer.requesterPeerId !== host.peerId.toString()) {
        throw new P2PError(P2PErrorCode.PUBLISH_FAILED, 'offer names another peer as requester', {
          details: 'requesterPeerId must be this node; peers reject offers published by anyone else',
        })
      }
      let data: Uint8Array
      try {
        data = encodeJobOffer(offer)
        await assertJobOfferAuthentic(offer)
      } catch (cause) {
        throw new P2PError(P2PErrorCode.PUBLISH_FAILED, 'offer is not valid', { cause })
      }
      const jobId = jobIdOf(offer.terms)
      seenJobs.add(jobId)
      return { jobId, recipients: await publish(OFFERS_TOPIC, data) }
    },
    async publishCapabilityAd(ad) {
      if (ad.providerPeerId !== host.peerId.toString()) {
        throw new P2PError(P2PErrorCode.PUBLISH_FAILED, 'ad names another peer as provider')
      }
      let data: Uint8Array
      try {
        data = encodeCapabilityAd(ad)
        await assertCapabilityAdAuthentic(ad)
      } catch (cause) {
        throw new P2PError(P2PErrorCode.PUBLISH_FAILED, 'capability ad is not valid', { cause })
      }
      return { recipients: await publish(CAPABILITIES_TOPIC, data) }
    },
    onOffer(listener) {
      offerListeners.add(listener)
      return () => offerListeners.delete(listener)
    },
    onCapabilityAd(listener) {
      adListeners.add(listener)
      return () => adListeners.delete(listener)
    },
    capabilityAds() {
      const t = seconds()
      return [...latestAds.values()].filter((ad) => ad.expiresAt > t)
    },
    validate,
  }
}

/** The gossipsub score this host gives a peer (tests, benchmarks, diagnostics). */
export function peerScore(host: OcnHost, peerId: string): number {
  return (host.services.pubsub as unknown as { getScore(id: string): number }).getScore(peerId)
}
