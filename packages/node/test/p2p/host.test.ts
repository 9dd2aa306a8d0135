/** The host factory with discovery turned on: bootstrap list plus the OCN DHT. */
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DHT_PROTOCOL } from '../../src/p2p/index.js'
import { startNode, stopNodes, type TestNode, waitFor } from './helpers.js'

const nodes: TestNode[] = []

beforeAll(async () => {
  const seed = await startNode({ host: { dht: true } })
  nodes.push(seed)
  const bootstrap = [`${seed.host.getMultiaddrs()[0]!.toString()}`]
  for (let i = 0; i < 2; i++) nodes.push(await startNode({ host: { dht: true, bootstrap } }))
})

afterAll(async () => {
  await stopNodes(nodes)
})

describe('discovery', () => {
  it('nodes dial their bootstrap list and find each other through the DHT', async () => {
    const [seed, a, b] = nodes as [TestNode, TestNode, TestNode]
    await waitFor(
      () => [a, b].every((n) => n.host.getPeers().some((p) => p.equals(seed.host.peerId))),
      20_000,
      'bootstrap connections',
    )
    expect(seed.host.getProtocols()).toContain(DHT_PROTOCOL)
    // a and b never dialled each other: find b's addresses by peer routing through the seed
    // the routing table is not in KadDHT's public type, but it is what peer routing consults
    const routingTableSize = () =>
      (seed.host.services.dht as unknown as { routingTable?: { size: number } }).routingTable?.size ?? 0
    await waitFor(() => routingTableSize() >= 2, 20_000, 'seed routing table')
    const found = await a.host.peerRouting.findPeer(peerIdFromString(b.peerId), {
      signal: AbortSignal.timeout(20_000),
    })
    expect(found.id.equals(b.host.peerId)).toBe(true)
    expect(found.multiaddrs.length).toBeGreaterThan(0)
    await a.host.dial(found.id)
    expect(a.host.getPeers().some((p) => p.equals(b.host.peerId))).toBe(true)
  })
})
