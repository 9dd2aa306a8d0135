/**
 * The network as the console's network page shows it (`GET /network`): each connected peer
 * with the gossipsub score this host gives it and the topics it subscribes to, and for each
 * topic this node is on, the peers in its mesh and all subscribers. Read from the host as it
 * stands; nothing here changes it.
 */
import type { NetworkSummary } from '../api/interface.js'
import { peerScore } from './gossip.js'
import type { OcnHost } from './host.js'

/** At most this many peers are listed (the page shows a table, not a crawl). */
const MAX_PEERS = 500

/** The class behind the GossipSub interface has it; the interface does not name it. */
function meshPeers(pubsub: object, topic: string): number | undefined {
  const get = (pubsub as { getMeshPeers?: (topic: string) => string[] }).getMeshPeers
  return typeof get === 'function' ? get.call(pubsub, topic).length : undefined
}

export function networkSummary(host: OcnHost): NetworkSummary {
  const pubsub = host.services.pubsub
  const topics = pubsub.getTopics()
  const topicsOf = new Map<string, string[]>()
  const summaryTopics = topics.map((topic) => {
    const subscribers = pubsub.getSubscribers(topic)
    for (const peer of subscribers) {
      const id = peer.toString()
      topicsOf.set(id, [...(topicsOf.get(id) ?? []), topic])
    }
    const mesh = meshPeers(pubsub, topic)
    return { topic, ...(mesh === undefined ? {} : { meshPeers: mesh }), subscribers: subscribers.length }
  })
  const byPeer = new Map<string, string[]>()
  for (const connection of host.getConnections()) {
    const id = connection.remotePeer.toString()
    byPeer.set(id, [...(byPeer.get(id) ?? []), connection.remoteAddr.toString()])
  }
  const peers = [...byPeer.entries()].slice(0, MAX_PEERS).map(([peerId, addresses]) => {
    const score = peerScore(host, peerId)
    return {
      peerId,
      addresses,
      ...(Number.isFinite(score) ? { score: Math.round(score * 1000) / 1000 } : {}),
      topics: topicsOf.get(peerId) ?? [],
    }
  })
  return {
    peerId: host.peerId.toString(),
    listen: host.getMultiaddrs().map((address) => address.toString()),
    peers,
    topics: summaryTopics,
  }
}
