/**
 * Graylisted peers are cut off (p2p/graylist-gate.ts): real libp2p nodes on 127.0.0.1, a
 * flooder of forged offers, and what the honest node does once it scores the flooder below
 * the graylist threshold: hang up, refuse it both ways for the ban, keep its honest peers,
 * and never cut off a peer the roles trust.
 */
import { randomBytes } from 'node:crypto'
import { encodeJobOffer } from '@ocn/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/core/logger.js'
import { GraylistGate, OFFERS_TOPIC, PeerPenalties, peerScore, scoreThresholds } from '../../src/p2p/index.js'
import {
  connect,
  makeIdentity,
  signedOffer,
  startNode,
  stopNodes,
  type TestNode,
  waitFor,
} from './helpers.js'

const nodes: TestNode[] = []
const fast = { graylist: { checkIntervalMs: 200 } }

afterAll(() => stopNodes(nodes))

const connected = (a: TestNode, b: TestNode) => a.host.getPeers().some((p) => p.toString() === b.peerId)

/** Forged offers (signed by another key) and garbage from `spammer` until `victim` graylists it. */
async function floodUntilGraylisted(spammer: TestNode, victim: TestNode): Promise<void> {
  await waitFor(
    () =>
      victim.host.services.pubsub.getSubscribers(OFFERS_TOPIC).some((p) => p.toString() === spammer.peerId),
    10_000,
    'the victim to see the spammer subscribed',
  )
  const liar = await makeIdentity()
  const pubsub = spammer.host.services.pubsub
  for (
    let round = 0;
    round < 40 && peerScore(victim.host, spammer.peerId) >= scoreThresholds.graylistThreshold;
    round++
  ) {
    await pubsub.publish(OFFERS_TOPIC, encodeJobOffer(await signedOffer(spammer.identity, {}, liar.account)))
    await pubsub.publish(OFFERS_TOPIC, randomBytes(20 * 1024))
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  expect(peerScore(victim.host, spammer.peerId)).toBeLessThan(scoreThresholds.graylistThreshold)
}

describe('graylisted peers are cut off', () => {
  it('hangs up on a graylisted flooder and refuses it both ways, keeping its honest peers', async () => {
    const honest = await startNode(fast)
    const neighbour = await startNode(fast)
    const spammer = await startNode()
    nodes.push(honest, neighbour, spammer)
    await connect(honest, neighbour)
    await connect(spammer, honest)
    await floodUntilGraylisted(spammer, honest)

    await waitFor(() => !connected(honest, spammer), 5_000, 'the flooder to be cut off')
    expect(honest.gate.isBanned(spammer.peerId)).toBe(true)
    expect(honest.gate.cutOffCount).toBe(1)
    expect(connected(honest, neighbour)).toBe(true)
    // it cannot come back on its own: the honest node refuses it once the handshake names it
    // (its own side may see the connection for a moment, until the close reaches it) ...
    await spammer.host.dial(honest.host.getMultiaddrs()[0]!).catch(() => undefined)
    expect(connected(honest, spammer)).toBe(false)
    await waitFor(() => !connected(spammer, honest), 5_000, 'the refused connection to close')
    expect(connected(honest, spammer)).toBe(false)
    // ... and the honest node does not dial it either
    await expect(
      honest.host.dial(spammer.host.getMultiaddrs()[0]!).then(
        () => 'connected',
        () => 'refused',
      ),
    ).resolves.toBe('refused')
    // the score outlives the connection: still graylisted, so not heard if it gets back later
    expect(peerScore(honest.host, spammer.peerId)).toBeLessThan(scoreThresholds.graylistThreshold)
  })

  it('never cuts off a peer the roles trust, graylisted or not', async () => {
    const requester = await startNode(fast)
    const provider = await startNode()
    nodes.push(requester, provider)
    // an awarded provider: its job's streams matter more than its gossip standing
    requester.penalties.trust(provider.peerId, Date.now() + 60_000)
    await connect(provider, requester)
    await floodUntilGraylisted(provider, requester)
    await new Promise((resolve) => setTimeout(resolve, 1_000)) // five checks
    expect(connected(requester, provider)).toBe(true)
    expect(requester.gate.isBanned(provider.peerId)).toBe(false)
    expect(requester.gate.cutOffCount).toBe(0)
  })

  it('a ban ends after banMs', () => {
    let t = 1_000
    const gate = new GraylistGate(
      { checkIntervalMs: 1_000, banMs: 5_000, capacity: 2 },
      new PeerPenalties(undefined, () => t),
      silentLogger,
      () => t,
    )
    gate.ban('peer-a')
    expect(gate.isBanned('peer-a')).toBe(true)
    t += 4_999
    expect(gate.isBanned('peer-a')).toBe(true)
    t += 1
    expect(gate.isBanned('peer-a')).toBe(false)
    expect(gate.isBanned('peer-b')).toBe(false)
  })
})
