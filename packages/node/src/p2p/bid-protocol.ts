/**
 * `/ocn/bid/1.0.0`: a provider sends one signed `Bid` to the requester's peer, the
 * requester answers with a `BidReceipt`. The requester checks, before its own logic sees
 * the bid, that the stream comes from the peer the bid names, that the identity binding
 * ties that peer to the bidding address, and that the EIP-712 signature is the provider's.
 */
import type { Connection, Stream } from '@libp2p/interface'
import {
  assertBidAuthentic,
  type Bid,
  type BidReceipt,
  type BidRejection,
  type MarketDomain,
  ProtocolError,
  ProtocolErrorCode,
} from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { OcnHost } from './host.js'
import { createP2PMetrics } from './metrics.js'
import { BID_PROTOCOL, defaultStreamProtocolOptions, type StreamProtocolOptions } from './options.js'
import { PeerPenalties } from './peer-penalties.js'
import { type PeerTarget, request, serveRequest } from './streams.js'
import { VerifiedBindings } from './verified-bindings.js'

/** What the requester's market logic answers for an authentic bid. */
export type BidDecision = { accepted: true } | { accepted: false; reason: BidRejection }

export type BidHandler = (
  bid: Bid,
  context: { remotePeer: string; signal: AbortSignal },
) => Promise<BidDecision>

export interface BidProtocolInit extends Partial<StreamProtocolOptions> {
  /** the market bids must be signed for; without it this node does not take bids */
  domain?: MarketDomain
  onBid?: BidHandler
}

export interface BidProtocolComponents {
  host: OcnHost
  logger: Logger
  registry?: Registry
  /** the node's shared penalty box: stallers are penalised and refused for a while */
  penalties?: PeerPenalties
}

export interface BidProtocol {
  start(): Promise<void>
  stop(): Promise<void>
  /** replaces the handler (the daemon sets it once the market is ready) */
  setBidHandler(handler: BidHandler | undefined): void
  /** sends a bid to the requester's peer and returns its receipt */
  sendBid(peer: PeerTarget, bid: Bid, options?: { signal?: AbortSignal }): Promise<BidReceipt>
}

function rejectionFor(error: unknown): BidRejection {
  if (error instanceof ProtocolError) {
    if (error.code === ProtocolErrorCode.INVALID_IDENTITY_BINDING) return 'invalid-binding'
    if (error.code === ProtocolErrorCode.INVALID_SIGNATURE) return 'invalid-signature'
  }
  return 'invalid-bid'
}

/** providers whose bindings a requester remembers (as many as gossip's `bindingCacheSize`) */
const BID_BINDING_CACHE_SIZE = 4096

export function createBidProtocol(init: BidProtocolInit, components: BidProtocolComponents): BidProtocol {
  const options: StreamProtocolOptions = { ...defaultStreamProtocolOptions, ...definedOnly(init) }
  const { host } = components
  const log = components.logger.child({ component: 'bid-protocol' })
  const metrics = createP2PMetrics(components.registry)
  let handler = init.onBid
  const guard = { protocol: BID_PROTOCOL, penalties: components.penalties ?? new PeerPenalties(), metrics }
  // a provider's binding is the same in all its bids: verified once, not per bid
  const bindings = new VerifiedBindings(BID_BINDING_CACHE_SIZE)

  async function handleStream(stream: Stream, connection: Connection): Promise<void> {
    const outcome = await serveRequest(
      stream,
      connection,
      'bid',
      'bidReceipt',
      options.requestTimeoutMs,
      async (bid, ctx) => {
        const receipt = (decision: BidDecision): BidReceipt =>
          decision.accepted
            ? { version: 1, jobId: bid.terms.jobId, accepted: true }
            : { version: 1, jobId: bid.terms.jobId, accepted: false, reason: decision.reason }
        if (bid.providerPeerId !== ctx.remotePeer)
          return receipt({ accepted: false, reason: 'invalid-binding' })
        if (init.domain === undefined || handler === undefined) {
          return receipt({ accepted: false, reason: 'unknown-job' })
        }
        try {
          await assertBidAuthentic(bid, init.domain, { verifyBinding: (binding) => bindings.check(binding) })
        } catch (error) {
          return receipt({ accepted: false, reason: rejectionFor(error) })
        }
        try {
          return receipt(await handler(bid, { remotePeer: ctx.remotePeer, signal: ctx.signal }))
        } catch (error) {
          log.warn({ err: error }, 'bid handler failed')
          return receipt({ accepted: false, reason: 'internal' })
        }
      },
      guard,
    )
    metrics.streamRequests.inc({
      protocol: BID_PROTOCOL,
      direction: 'inbound',
      outcome: outcome === 'ok' ? 'ok' : outcome.code,
    })
    if (outcome !== 'ok')
      log.debug({ err: outcome, peer: connection.remotePeer.toString() }, 'bid stream failed')
  }

  return {
    async start() {
      await host.handle(BID_PROTOCOL, handleStream, {
        maxInboundStreams: options.maxInboundBidStreams,
        maxOutboundStreams: options.maxInboundBidStreams,
      })
    },
    async stop() {
      await host.unhandle(BID_PROTOCOL).catch(() => {})
    },
    setBidHandler(next) {
      handler = next
    },
    async sendBid(peer, bid, callOptions = {}) {
      try {
        const receipt = await request(host, peer, BID_PROTOCOL, 'bid', bid, 'bidReceipt', {
          timeoutMs: options.requestTimeoutMs,
          ...(callOptions.signal === undefined ? {} : { signal: callOptions.signal }),
        })
        if (receipt.jobId !== bid.terms.jobId) {
          throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'bid receipt names another job', {
            peer: String(peer),
          })
        }
        metrics.streamRequests.inc({ protocol: BID_PROTOCOL, direction: 'outbound', outcome: 'ok' })
        return receipt
      } catch (error) {
        const code = error instanceof P2PError ? error.code : 'error'
        metrics.streamRequests.inc({ protocol: BID_PROTOCOL, direction: 'outbound', outcome: code })
        throw error
      }
    },
  }
}

export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
