/**
 * Everything network a node runs, assembled: the libp2p host, gossip, and the bid,
 * artifact and result protocols, started and stopped together. The daemon builds one of
 * these; tests build many in one process.
 */
import type { Registry } from 'prom-client'
import type { ArtifactStore } from '../artifacts/store.js'
import type { Logger } from '../core/logger.js'
import {
  type ArtifactProtocol,
  type ArtifactProtocolInit,
  createArtifactProtocol,
} from './artifact-protocol.js'
import { type BidProtocol, type BidProtocolInit, createBidProtocol, definedOnly } from './bid-protocol.js'
import { startBootstrapRedial } from './bootstrap-redial.js'
import { createGossipService, type GossipService, type GossipServiceInit } from './gossip.js'
import { defaultGraylistGateOptions, GraylistGate, type GraylistGateOptions } from './graylist-gate.js'
import { createOcnHost, type HostComponents, type HostInit, type OcnHost } from './host.js'
import { createP2PMetrics } from './metrics.js'
import { defaultPeerPenaltyOptions, PeerPenalties, type PeerPenaltyOptions } from './peer-penalties.js'
import {
  defaultRequesterFundsOptions,
  type FundsReader,
  RequesterFunds,
  type RequesterFundsOptions,
} from './requester-funds.js'
import { createResultProtocol, type ResultProtocol, type ResultProtocolInit } from './result-protocol.js'
import {
  createTokenStreamProtocol,
  type TokenStreamOptions,
  type TokenStreamProtocol,
} from './token-stream.js'

export interface NetworkInit {
  host?: HostInit
  gossip?: GossipServiceInit
  bids?: BidProtocolInit
  artifacts?: ArtifactProtocolInit
  results?: ResultProtocolInit
  /** `/ocn/tokens/1.0.0`: generated tokens pushed to the requester (token-stream.ts) */
  tokens?: Partial<TokenStreamOptions>
  /** how stalling peers are penalised (peer-penalties.ts) */
  penalties?: Partial<PeerPenaltyOptions>
  /** how requesters' funds are cached (requester-funds.ts); used when `readFunds` is given */
  funds?: Partial<RequesterFundsOptions>
  /** how graylisted peers are cut off (graylist-gate.ts) */
  graylist?: Partial<GraylistGateOptions>
}

export interface NetworkComponents {
  logger: Logger
  store: ArtifactStore
  registry?: Registry
  now?: () => number
  datastore?: HostComponents['datastore']
  /** reads a requester's OPEN balance and allowance; without it offers are not checked against funds */
  readFunds?: FundsReader
}

export interface Network {
  host: OcnHost
  gossip: GossipService
  bids: BidProtocol
  artifacts: ArtifactProtocol
  results: ResultProtocol
  tokens: TokenStreamProtocol
  /** the node's penalty box, shared by every stream protocol and gossipsub's app score */
  penalties: PeerPenalties
  /** cuts graylisted peers off and refuses them for a while */
  gate: GraylistGate
  /** the requesters' funds cache (absent without `readFunds`); invalidate it on chain events */
  funds: RequesterFunds | undefined
  peerId: string
  start(): Promise<void>
  stop(): Promise<void>
}

export async function createNetwork(init: NetworkInit, components: NetworkComponents): Promise<Network> {
  const { logger, registry, store, readFunds } = components
  const now = components.now ?? Date.now
  const penalties = new PeerPenalties(
    { ...defaultPeerPenaltyOptions, ...definedOnly(init.penalties ?? {}) },
    now,
  )
  const funds =
    readFunds === undefined
      ? undefined
      : new RequesterFunds(
          readFunds,
          { ...defaultRequesterFundsOptions, ...definedOnly(init.funds ?? {}) },
          now,
        )
  const shared = { logger, penalties, ...(registry === undefined ? {} : { registry }) }
  const gate = new GraylistGate(
    { ...defaultGraylistGateOptions, ...definedOnly(init.graylist ?? {}) },
    penalties,
    logger.child({ component: 'p2p-host' }),
    now,
    createP2PMetrics(registry),
  )
  const host = await createOcnHost(init.host ?? {}, {
    ...shared,
    gate,
    ...(components.datastore === undefined ? {} : { datastore: components.datastore }),
  })
  const gossip = createGossipService(
    { ...(init.host?.gossip ?? {}), ...(init.gossip ?? {}) },
    { host, ...shared, now, ...(funds === undefined ? {} : { funds }) },
  )
  const bids = createBidProtocol(init.bids ?? {}, { host, ...shared })
  const artifacts = createArtifactProtocol(init.artifacts ?? {}, { host, store, ...shared })
  const results = createResultProtocol(init.results ?? {}, { host, ...shared })
  const tokens = createTokenStreamProtocol(init.tokens ?? {}, { host, ...shared })
  const services = [gossip, bids, artifacts, results, tokens]
  let stopRedial: (() => void) | undefined
  return {
    host,
    gossip,
    bids,
    artifacts,
    results,
    tokens,
    penalties,
    gate,
    funds,
    peerId: host.peerId.toString(),
    async start() {
      if (host.status !== 'started') await host.start()
      for (const service of services) await service.start()
      gate.start(host)
      stopRedial ??= startBootstrapRedial(
        host,
        init.host?.bootstrap ?? [],
        logger.child({ component: 'p2p-host' }),
      )
    },
    async stop() {
      stopRedial?.()
      stopRedial = undefined
      gate.stop()
      for (const service of [...services].reverse()) await service.stop().catch(() => {})
      await host.stop()
    },
  }
}
