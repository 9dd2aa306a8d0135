/**
 * The libp2p 3 host every OCN node runs: TCP, Noise, Yamux, identify, ping, a Kademlia
 * DHT on our own protocol id, a bootstrap list, optional mDNS, and gossipsub with the
 * OCN scoring parameters. Limits are set on purpose (see options.ts and docs/network.md);
 * nothing here reaches for globals, so many hosts can share one process.
 */
import '@ocn/protocol/polyfill'
import { createHash } from 'node:crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { PeerDiscovery, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { type Ping, ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.js'
import { noiseWithWholeFrames } from './noise-frames.js'
import {
  CAPABILITIES_TOPIC,
  DHT_PROTOCOL,
  defaultGossipOptions,
  defaultHostOptions,
  type GossipOptions,
  type HostOptions,
  OFFERS_TOPIC,
} from './options.js'
import type { PeerPenalties } from './peer-penalties.js'
import { createScoreParams, scoreThresholds } from './scoring.js'
import { installYamuxHalfWindowUpdates } from './yamux-window.js'

// a type alias (not an interface) so it satisfies libp2p's ServiceMap index signature
export type OcnServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  /** absent when the host runs without a DHT */
  dht?: KadDHT
}

export type OcnHost = Libp2p<OcnServices>

export interface HostInit extends Partial<HostOptions> {
  /** the node's identity; a fresh Ed25519 key when absent */
  privateKey?: PrivateKey
  gossip?: Partial<GossipOptions>
}

export interface HostComponents {
  logger: Logger
  /** when given, libp2p's own metrics are registered here (one registry per process) */
  registry?: Registry
  /** persistent datastore for the peer store and DHT records; in memory when absent */
  datastore?: NonNullable<Libp2pOptions['datastore']>
  /** the node's penalty box: its points are gossipsub's app-specific score */
  penalties?: PeerPenalties
  /** peers whose connections are refused, both ways (graylist-gate.ts) */
  gate?: { isBanned(peer: string): boolean }
}

/** the fields of a gossipsub message as it arrives, before any check */
export interface RawGossipMessage {
  topic: string
  from?: Uint8Array
  seqno?: Uint8Array
  data?: Uint8Array
  signature?: Uint8Array
  key?: Uint8Array
}

const ABSENT = Uint8Array.of(0xff, 0xff, 0xff, 0xff)

/**
 * Gossip messages from this size up get IDONTWANT frames. An offer with the largest inline
 * spec (8 KiB) stays below it; any larger message (still allowed up to maxInboundRpcBytes)
 * gets them, where a saved duplicate is worth a control frame.
 */
export const IDONTWANT_MIN_BYTES = 16 * 1024

/**
 * Gossipsub's fast message id: SHA-256 (native) over every field as received, each with its
 * length. Gossipsub verifies a message's StrictSign signature (an Ed25519 verify, ~0.1 ms)
 * before it computes the message id and finds a duplicate; with a fast id, a copy that is
 * byte for byte one it has already verified is known as a duplicate at once. Every field
 * counts, the signature too, so a copy with another signature (valid or forged) is not a
 * fast duplicate and is verified as before: no check is skipped for anything not already
 * verified. Honest forwarders send identical copies: a node in a mesh of degree D gets up to
 * D copies of each offer and now verifies one.
 */
export function fastMessageId(msg: RawGossipMessage): string {
  const hash = createHash('sha256')
  for (const field of [Buffer.from(msg.topic), msg.from, msg.seqno, msg.data, msg.signature, msg.key]) {
    if (field === undefined) {
      hash.update(ABSENT)
      continue
    }
    const length = new Uint8Array(4)
    new DataView(length.buffer).setUint32(0, field.length)
    hash.update(length).update(field)
  }
  return hash.digest('base64')
}

/**
 * Gossip message ids are the SHA-256 of the payload, so a re-published copy is a duplicate.
 * node:crypto's native SHA-256: gossipsub computes it for every copy that is not a fast
 * duplicate (contentHashOf, the same digest, is pure JS and ~5x slower on an offer).
 */
export function messageId(msg: { data: Uint8Array }): Uint8Array {
  return createHash('sha256').update(msg.data).digest()
}

/** gossipsub as OCN runs it: StrictSign, content ids, OCN's scoring, two topics. */
function gossipService(gossipOptions: GossipOptions, penalties: HostComponents['penalties']) {
  return gossipsub({
    globalSignaturePolicy: 'StrictSign',
    allowedTopics: [OFFERS_TOPIC, CAPABILITIES_TOPIC],
    msgIdFn: messageId,
    fastMsgIdFn: fastMessageId,
    emitSelf: false,
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    maxInboundDataLength: gossipOptions.maxInboundRpcBytes,
    scoreParams: createScoreParams(gossipOptions.ipColocationWhitelist, (peer) =>
      penalties === undefined ? 0 : penalties.appScore(peer),
    ),
    scoreThresholds,
    // peer exchange only from well-scored peers (acceptPXThreshold) helps sparse networks heal
    doPX: true,
    maxInboundStreams: 4,
    maxOutboundStreams: 4,
    // IDONTWANT (gossipsub 1.2) saves a duplicate of a large message at the price of one
    // control frame to every mesh peer per message heard. Offers and ads are 1-3 KiB: on
    // the testnet the frames cost the nodes more than the duplicates they saved (docs/network.md)
    idontwantMinDataSize: IDONTWANT_MIN_BYTES,
  })
}

export async function createOcnHost(init: HostInit, components: HostComponents): Promise<OcnHost> {
  const options: HostOptions = { ...defaultHostOptions, ...stripUndefined(init) }
  const gossipOptions: GossipOptions = { ...defaultGossipOptions, ...stripUndefined(init.gossip ?? {}) }
  const log = components.logger.child({ component: 'p2p-host' })
  if (!installYamuxHalfWindowUpdates())
    log.warn('yamux changed shape: window updates go out after every frame (see p2p/yamux-window.ts)')
  const { penalties } = components

  const peerDiscovery: Array<(c: never) => PeerDiscovery> = []
  if (options.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: options.bootstrap, timeout: 100 }) as never)
  }
  if (options.mdns) peerDiscovery.push(mdns({ interval: 20_000 }) as never)

  const services = {
    identify: identify({ timeout: options.dialTimeoutMs }),
    ping: ping(),
    pubsub: gossipService(gossipOptions, penalties),
    ...(options.dht
      ? {
          dht: kadDHT({
            protocol: DHT_PROTOCOL,
            clientMode: false,
            peerInfoMapper: options.dhtAllowPrivateAddresses
              ? passthroughMapper
              : removePrivateAddressesMapper,
          }),
        }
      : {}),
  }

  const libp2pOptions: Libp2pOptions = {
    ...(init.privateKey === undefined ? {} : { privateKey: init.privateKey }),
    ...(components.datastore === undefined ? {} : { datastore: components.datastore }),
    addresses: {
      listen: options.listen,
      ...(options.announce.length === 0 ? {} : { announce: options.announce }),
    },
    transports: [tcp({ outboundSocketInactivityTimeout: 120_000, inboundSocketInactivityTimeout: 120_000 })],
    connectionEncrypters: [
      noiseWithWholeFrames({}, () =>
        log.warn('noise changed shape: each frame goes out in two socket writes (see p2p/noise-frames.ts)'),
      ),
    ],
    streamMuxers: [
      yamux({
        streamOptions: {
          maxStreamWindowSize: options.yamuxMaxStreamWindowBytes,
          // a paused stream may still receive one full window
          maxReadBufferLength: options.yamuxMaxStreamWindowBytes * 2,
        },
      }),
    ],
    connectionManager: {
      maxConnections: options.maxConnections,
      maxIncomingPendingConnections: options.maxIncomingPendingConnections,
      inboundConnectionThreshold: options.inboundConnectionThreshold,
      dialTimeout: options.dialTimeoutMs,
    },
    connectionMonitor: {
      pingInterval: options.pingIntervalMs,
      // a fixed timeout: the adaptive one tracks an idle machine's round trips and then
      // closes every link of a node that a flood has starved for a few seconds
      pingTimeout: { minTimeout: options.pingTimeoutMs, maxTimeout: options.pingTimeoutMs },
    },
    ...(components.gate === undefined ? {} : { connectionGater: gaterOf(components.gate) }),
    peerDiscovery: peerDiscovery as never,
    services: services as never,
    ...(components.registry === undefined
      ? {}
      : {
          metrics: prometheusMetrics({
            registry: components.registry,
            collectDefaultMetrics: false,
            preserveExistingMetrics: true,
          }),
        }),
  }
  const node = (await createLibp2p(libp2pOptions)) as unknown as OcnHost
  log.debug(
    { peerId: node.peerId.toString(), listen: node.getMultiaddrs().map(String) },
    'libp2p host started',
  )
  return node
}

/** A cut-off peer is refused before a dial and right after the handshake names it, both ways. */
function gaterOf(gate: { isBanned(peer: string): boolean }): NonNullable<Libp2pOptions['connectionGater']> {
  const banned = (peer: { toString(): string }) => gate.isBanned(peer.toString())
  return {
    denyDialPeer: banned,
    denyInboundEncryptedConnection: banned,
    denyOutboundEncryptedConnection: banned,
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
