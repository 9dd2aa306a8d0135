/**
 * OCN gossip: job offers on `/ocn/offers/1` and capability ads on `/ocn/capabilities/1`.
 * Every incoming message passes the validator of gossip-validation.ts first; accepted ones
 * reach the listeners here. Our own messages are checked as a peer would check them before
 * they are published.
 */
import type { Message } from '@libp2p/gossipsub'
import {
  assertCapabilityAdAuthentic,
  assertJobOfferAuthentic,
  type CapabilityAd,
  encodeCapabilityAd,
  encodeJobOffer,
  type JobOffer,
  jobIdOf,
  keccakReady,
  recoveryReady,
} from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'
import type { Logger } from '../core/logger.js'
import { definedOnly } from './bid-protocol.js'
import { P2PError, P2PErrorCode } from './errors.js'
import { GossipValidator, type Validation } from './gossip-validation.js'
import type { OcnHost } from './host.js'
import { createP2PMetrics } from './metrics.js'
import { CAPABILITIES_TOPIC, defaultGossipOptions, type GossipOptions, OFFERS_TOPIC } from './options.js'
import type { RequesterFunds } from './requester-funds.js'

export type { Validation, Verdict } from './gossip-validation.js'

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
  /** the offer requesters' on-chain funds (createNetwork builds it from the chain reader) */
  funds?: RequesterFunds
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
  /**
   * the validator itself, for direct tests; `from` is the publishing peer id, `source` the
   * forwarding peer whose ignore budget the message spends (`from` when absent)
   */
  validate(topic: string, from: string | undefined, data: Uint8Array, source?: string): Promise<Validation>
  /** entries in the validator's caches, each bounded (tests, diagnostics) */
  cacheSizes(): Record<string, number>
}

export type GossipServiceInit = Partial<GossipOptions>

const topics = [OFFERS_TOPIC, CAPABILITIES_TOPIC] as const

/** our own offer, encoded, once it passes the checks peers will make */
async function encodeOwnOffer(offer: JobOffer, self: string): Promise<Uint8Array> {
  if (offer.requesterPeerId !== self) {
    throw new P2PError(P2PErrorCode.PUBLISH_FAILED, 'offer names another peer as requester', {
      details: 'requesterPeerId must be this node; peers reject offers published by anyone else',
    })
  }
  try {
    const data = encodeJobOffer(offer)
    await assertJobOfferAuthentic(offer)
    return data
  } catch (cause) {
    throw new P2PError(P2PErrorCode.PUBLISH_FAILED, 'offer is not valid', { cause })
  }
}

/** our own capability ad, encoded, once it passes the checks peers will make */
async function encodeOwnAd(ad: CapabilityAd, self: string): Promise<Uint8Array> {
  if (ad.providerPeerId !== self) {
    throw new P2PError(P2PErrorCode.PUBLISH_FAILED, 'ad names another peer as provider')
  }
  try {
    const data = encodeCapabilityAd(ad)
    await assertCapabilityAdAuthentic(ad)
    return data
  } catch (cause) {
    throw new P2PError(P2PErrorCode.PUBLISH_FAILED, 'capability ad is not valid', { cause })
  }
}

export function createGossipService(
  init: GossipServiceInit,
  components: GossipServiceComponents,
): GossipService {
  const options: GossipOptions = { ...defaultGossipOptions, ...definedOnly(init) }
  const { host } = components
  const log = components.logger.child({ component: 'gossip' })
  const metrics = createP2PMetrics(components.registry)
  const pubsub = host.services.pubsub
  const validator = new GossipValidator({
    options,
    now: components.now ?? Date.now,
    log,
    metrics,
    ...(components.funds === undefined ? {} : { funds: components.funds }),
  })
  const offerListeners = new Set<(e: ReceivedOffer) => void>()
  const adListeners = new Set<(e: ReceivedCapabilityAd) => void>()
  let started = false

  function validatorFor(topic: string) {
    return async (propagationSource: { toString(): string }, msg: Message) => {
      const from = msg.type === 'signed' ? msg.from.toString() : undefined
      const result = await validator.validate(topic, from, msg.data, propagationSource.toString())
      return result.verdict as never
    }
  }

  function onMessage(event: CustomEvent<Message>): void {
    const msg = event.detail
    if (msg.type !== 'signed') return
    const publisher = msg.from.toString()
    try {
      if (msg.topic === OFFERS_TOPIC) {
        const offer = validator.offerOf(msg.data)
        const received: ReceivedOffer = { offer, jobId: validator.jobIdOf(msg.data, offer), publisher }
        for (const listener of offerListeners) listener(received)
      } else if (msg.topic === CAPABILITIES_TOPIC) {
        const ad = validator.adOf(msg.data)
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
      // compile the WebAssembly recovery and keccak now (45-60 ms of CPU on an idle core), not
      // on the first offer heard, where every node on the offer's path would pay it in turn:
      // on the testnet's starved cores that is seconds on the first offers' tail
      await Promise.all([recoveryReady(), keccakReady()])
      for (const topic of topics) pubsub.topicValidators.set(topic, validatorFor(topic))
      pubsub.addEventListener('message', onMessage)
      for (const topic of topics) pubsub.subscribe(topic)
      started = true
    },
    async stop() {
      started = false
      pubsub.removeEventListener('message', onMessage)
      try {
        for (const topic of topics) pubsub.unsubscribe(topic)
      } catch {
        // the host may already be stopping
      }
      for (const topic of topics) pubsub.topicValidators.delete(topic)
    },
    async publishOffer(offer) {
      const data = await encodeOwnOffer(offer, host.peerId.toString())
      const jobId = jobIdOf(offer.terms)
      validator.markJobSeen(jobId)
      return { jobId, recipients: await publish(OFFERS_TOPIC, data) }
    },
    async publishCapabilityAd(ad) {
      const data = await encodeOwnAd(ad, host.peerId.toString())
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
    capabilityAds: () => validator.currentAds(),
    validate: (topic, from, data, source) => validator.validate(topic, from, data, source ?? from),
    cacheSizes: () => validator.cacheSizes(),
  }
}

/** The gossipsub score this host gives a peer (tests, benchmarks, diagnostics). */
export function peerScore(host: OcnHost, peerId: string): number {
  return (host.services.pubsub as unknown as { getScore(id: string): number }).getScore(peerId)
}
