/**
 * A hostile libp2p peer for the hostile-peer test and the soak benchmark, built only from
 * public libp2p packages (TCP, Noise, Yamux, identify, gossipsub): no OCN networking code.
 * It uses @ocn/protocol only to build messages an honest node would otherwise accept at first
 * glance (correctly signed offers for another chain or from a requester with no tokens, an
 * artifact request).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import {
  type ContentHash,
  contentHashOf,
  createIdentityBinding,
  encodeJobOffer,
  encodeMessage,
  type JobOffer,
  type MarketDomain,
  type OfferTerms,
  offerTypedData,
} from '@ocn/protocol'
import { createLibp2p, type Libp2p } from 'libp2p'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

export const OFFERS = '/ocn/offers/1'
export const CAPABILITIES = '/ocn/capabilities/1'
const ARTIFACT = '/ocn/artifact/1.0.0'

export interface Hostile {
  node: Libp2p<{ pubsub: GossipSub; identify: Identify }>
  privateKey: PrivateKey
  /** offers it heard from honest requesters (replayed later) */
  heard: Uint8Array[]
}

export async function startHostilePeer(): Promise<Hostile> {
  const privateKey = await generateKeyPair('Ed25519')
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false }),
    },
  })
  const heard: Uint8Array[] = []
  node.services.pubsub.addEventListener('message', (event) => {
    if (event.detail.topic === OFFERS && heard.length < 16) heard.push(event.detail.data)
  })
  node.services.pubsub.subscribe(OFFERS)
  node.services.pubsub.subscribe(CAPABILITIES)
  return { node, privateKey, heard }
}

/** the OCN protocols a peer registered, as identify told us */
export async function ocnProtocolsOf(hostile: Hostile, peer: PeerId): Promise<string[]> {
  const info = await hostile.node.peerStore.get(peer)
  return info.protocols.filter((p) => p.startsWith('/ocn/'))
}

/**
 * A correctly signed offer of a fresh identity (its own peer and a fresh EVM key bound to it),
 * for `domain`: another chain's market, or ours from a requester that holds no tokens.
 */
export async function signedOffer(hostile: Hostile, domain: MarketDomain, salt: bigint): Promise<JobOffer> {
  const account = privateKeyToAccount(generatePrivateKey())
  const now = BigInt(Math.floor(Date.now() / 1000))
  const spec = new TextEncoder().encode('{"kind":"inference"}')
  const terms: OfferTerms = {
    requester: account.address,
    modelHash: contentHashOf(new TextEncoder().encode(`model ${salt}`)),
    inputHash: contentHashOf(new TextEncoder().encode(`input ${salt}`)),
    specHash: contentHashOf(spec),
    kind: 0,
    verification: 0,
    maxPrice: 10n ** 18n,
    minCollateral: 10n ** 18n,
    sampleCount: 64,
    microBatchSize: 8,
    biddingEnds: now + 5n,
    deadline: now + 300n,
    salt,
  }
  return {
    version: 1,
    chainId: domain.chainId,
    market: domain.verifyingContract,
    terms,
    requesterPeerId: hostile.node.peerId.toString(),
    requesterBinding: await createIdentityBinding(account, hostile.privateKey),
    signature: await account.signTypedData(offerTypedData(domain, terms)),
    modelBytes: 10,
    inputBytes: 10,
    spec,
  }
}

/** publishes, ignoring the peer's own complaints (no subscribers yet, duplicates) */
export async function publish(hostile: Hostile, topic: string, data: Uint8Array): Promise<void> {
  await hostile.node.services.pubsub.publish(topic, data).catch(() => {})
}

/**
 * Opens a stream on `protocol` and sends nothing: the request a server waits for never comes.
 * The stream is returned open, so the caller holds it as long as it likes.
 */
export async function openSilentStream(
  hostile: Hostile,
  target: Multiaddr,
  protocol: string,
): Promise<Stream> {
  return hostile.node.dialProtocol(target, protocol)
}

/**
 * Asks for an artifact and never reads the answer: the stream is paused at once, so Yamux
 * withholds window updates and the server's upload can only wait (or be cut off).
 */
export async function openStalledArtifactRead(
  hostile: Hostile,
  target: Multiaddr,
  hash: ContentHash,
): Promise<Stream> {
  const stream = await hostile.node.dialProtocol(target, ARTIFACT)
  stream.pause()
  await lpStream(stream).write(encodeMessage('artifactRequest', { version: 1, hash }))
  return stream
}

/** other-chain offers, signed correctly: `ignore` one by one, until the sender's ignore budget is spent */
export async function floodOtherChain(hostile: Hostile, domain: MarketDomain, count: number): Promise<void> {
  const other = { ...domain, chainId: domain.chainId + 1 }
  for (let i = 0; i < count; i++) {
    await publish(hostile, OFFERS, encodeJobOffer(await signedOffer(hostile, other, BigInt(i + 1))))
  }
}

/** offers for our market from requesters with no tokens */
export async function floodUnfunded(hostile: Hostile, domain: MarketDomain, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await publish(hostile, OFFERS, encodeJobOffer(await signedOffer(hostile, domain, BigInt(10_000 + i))))
  }
}

/**
 * Garbage, oversized, wrongly signed offers, and replays: of what it sent before, and of the
 * honest requesters' offers it heard (published again under its own name).
 */
export async function floodMalformed(hostile: Hostile, domain: MarketDomain, count: number): Promise<void> {
  const sent: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const kind = i % 4
    let data: Uint8Array
    if (kind === 0) data = crypto.getRandomValues(new Uint8Array(200 + i))
    else if (kind === 1) data = new Uint8Array(64 * 1024).fill(i & 0xff)
    else if (kind === 2) {
      // signed for our market, then the price raised: the signature no longer matches
      const offer = await signedOffer(hostile, domain, BigInt(20_000 + i))
      data = encodeJobOffer({ ...offer, terms: { ...offer.terms, maxPrice: offer.terms.maxPrice + 1n } })
    } else data = hostile.heard[i % Math.max(1, hostile.heard.length)] ?? sent[0] ?? new Uint8Array([0xff])
    sent.push(data)
    await publish(hostile, i % 8 === 3 ? CAPABILITIES : OFFERS, data)
  }
}
