/**
 * Real libp2p nodes on 127.0.0.1 in a sparse topology: offers and ads reach everyone, and
 * a peer flooding invalid offers is rejected message by message until graylisted, while
 * honest offers keep flowing.
 */
import { randomBytes } from 'node:crypto'
import { encodeJobOffer, jobIdOf } from '@ocn/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fastMessageId } from '../../src/p2p/host.js'
import { OFFERS_TOPIC, peerScore, scoreThresholds } from '../../src/p2p/index.js'
import {
  capabilityAd,
  connect,
  makeIdentity,
  signedOffer,
  startNode,
  stopNodes,
  type TestNode,
  waitFor,
} from './helpers.js'

const HONEST = 12
const nodes: TestNode[] = []
let spammer: TestNode | undefined
const received = new Map<string, Set<string>>() // peerId -> job ids heard
const adsHeard = new Map<string, Set<string>>() // peerId -> providers heard

beforeAll(async () => {
  for (let i = 0; i < HONEST; i++) nodes.push(await startNode())
  // a ring plus a chord every third node: degree 2-3, diameter ~4, no node sees all
  for (let i = 0; i < HONEST; i++) {
    await connect(nodes[i]!, nodes[(i + 1) % HONEST]!)
    if (i % 3 === 0) await connect(nodes[i]!, nodes[(i + HONEST / 2) % HONEST]!)
  }
  for (const node of nodes) {
    const jobs = new Set<string>()
    const ads = new Set<string>()
    received.set(node.peerId, jobs)
    adsHeard.set(node.peerId, ads)
    node.gossip.onOffer((e) => jobs.add(e.jobId))
    node.gossip.onCapabilityAd((e) => ads.add(e.ad.providerPeerId))
  }
  await waitFor(
    () => nodes.every((n) => n.host.services.pubsub.getSubscribers(OFFERS_TOPIC).length >= 2),
    20_000,
    'topic subscriptions',
  )
  // let the mesh form (heartbeat is 1 s)
  await waitFor(
    () =>
      nodes.every(
        (n) =>
          (n.host.services.pubsub as unknown as { getMeshPeers(t: string): string[] }).getMeshPeers(
            OFFERS_TOPIC,
          ).length >= 2,
      ),
    20_000,
    'gossipsub mesh',
  )
})

afterAll(async () => {
  await stopNodes(spammer === undefined ? nodes : [...nodes, spammer])
})

describe('gossip over a sparse topology', () => {
  it('is really sparse', () => {
    for (const node of nodes) expect(node.host.getPeers().length).toBeLessThan(HONEST - 1)
  })

  it("gossipsub knows byte-identical copies by the host's fast message id", () => {
    for (const node of nodes) {
      expect((node.host.services.pubsub as unknown as { fastMsgIdFn?: unknown }).fastMsgIdFn).toBe(
        fastMessageId,
      )
    }
  })

  it('an offer published at one edge reaches every node', async () => {
    const publisher = nodes[0]!
    const offer = await signedOffer(publisher.identity)
    const { jobId } = await publisher.gossip.publishOffer(offer)
    expect(jobId).toBe(jobIdOf(offer.terms))
    await waitFor(
      () => nodes.slice(1).every((n) => received.get(n.peerId)!.has(jobId)),
      15_000,
      'offer delivery to all nodes',
    )
  })

  it('a capability ad reaches every node and lands in their directories', async () => {
    const provider = nodes[7]!
    await provider.gossip.publishCapabilityAd(capabilityAd(provider.identity))
    const others = nodes.filter((n) => n !== provider)
    await waitFor(
      () => others.every((n) => adsHeard.get(n.peerId)!.has(provider.peerId)),
      15_000,
      'ad delivery to all nodes',
    )
    for (const node of others) {
      expect(node.gossip.capabilityAds().map((ad) => ad.providerPeerId)).toContain(provider.peerId)
    }
  })

  it('refuses to publish an offer that names another peer', async () => {
    const other = await makeIdentity()
    await expect(nodes[0]!.gossip.publishOffer(await signedOffer(other))).rejects.toMatchObject({
      code: 'PUBLISH_FAILED',
    })
  })

  it('a flooder of invalid offers is rejected, graylisted, and honest offers still reach everyone', async () => {
    spammer = await startNode()
    const victims = [nodes[2]!, nodes[6]!, nodes[10]!]
    for (const victim of victims) await connect(spammer, victim)
    const spamPubsub = spammer.host.services.pubsub
    await waitFor(
      () =>
        victims.every((v) =>
          v.host.services.pubsub.getSubscribers(OFFERS_TOPIC).some((p) => p.toString() === spammer!.peerId),
        ),
      10_000,
      'victims to see the spammer subscribed',
    )
    const liar = await makeIdentity()
    const spamJobIds = new Set<string>()
    const honest: { jobId: string; publisher: string }[] = []
    const nowSeconds = BigInt(Math.floor(Date.now() / 1000))
    for (let round = 0; round < 10; round++) {
      // 1. forged EIP-712 signature (signed by another key)
      const forged = await signedOffer(spammer.identity, {}, liar.account)
      // 2. expired, but otherwise perfectly signed
      const expired = await signedOffer(spammer.identity, {
        biddingEnds: nowSeconds - 3600n,
        deadline: nowSeconds - 60n,
      })
      for (const offer of [forged, expired]) spamJobIds.add(jobIdOf(offer.terms))
      // raw publishes: the spammer skips its own validation
      await spamPubsub.publish(OFFERS_TOPIC, encodeJobOffer(forged))
      await spamPubsub.publish(OFFERS_TOPIC, encodeJobOffer(expired))
      // 3. oversized garbage
      await spamPubsub.publish(OFFERS_TOPIC, randomBytes(20 * 1024))
      // meanwhile an honest node keeps publishing
      if (round % 3 === 0) {
        const publisher = nodes[(round * 5) % HONEST]!
        const { jobId } = await publisher.gossip.publishOffer(await signedOffer(publisher.identity))
        honest.push({ jobId, publisher: publisher.peerId })
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }

    // every victim scores the spammer below the graylist threshold
    await waitFor(
      () => victims.every((v) => peerScore(v.host, spammer!.peerId) < scoreThresholds.graylistThreshold),
      15_000,
      'spammer graylisted by every neighbour',
    )
    // honest offers reached every honest node
    await waitFor(
      () =>
        honest.every(({ jobId, publisher }) =>
          nodes.every((n) => n.peerId === publisher || received.get(n.peerId)!.has(jobId)),
        ),
      15_000,
      'honest offers delivered during the flood',
    )
    // no spam was ever delivered to any honest node
    for (const node of nodes) {
      for (const id of spamJobIds) expect(received.get(node.peerId)!.has(id)).toBe(false)
    }
    // honest peers keep good scores with each other
    for (const victim of victims) {
      for (const peer of victim.host.getPeers()) {
        if (peer.toString() === spammer.peerId) continue
        expect(peerScore(victim.host, peer.toString())).toBeGreaterThanOrEqual(0)
      }
    }
    // graylisted means not heard: a valid offer from the spammer now reaches no one
    const late = await signedOffer(spammer.identity)
    await spamPubsub.publish(OFFERS_TOPIC, encodeJobOffer(late))
    await new Promise((resolve) => setTimeout(resolve, 1500))
    for (const node of nodes) expect(received.get(node.peerId)!.has(jobIdOf(late.terms))).toBe(false)
  })
})
