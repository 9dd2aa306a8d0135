import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import type { P2PService } from '../../src/api/services.js'
import { defaultNodeConfig } from '../../src/config/index.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { createDaemon, type Daemon } from '../../src/daemon/index.js'
import { initNodeKeys, loadNodeKeys } from '../../src/keys/index.js'
import { getJson, httpRequest } from './helpers.js'

let dataDir: string | undefined
let daemon: Daemon | undefined
let other: Libp2p | undefined

afterEach(async () => {
  await daemon?.stop()
  await other?.stop()
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
  daemon = undefined
  other = undefined
})

describe('daemon with a real libp2p host', () => {
  it('serves libp2p metrics from the shared registry and real peers over TCP', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ocn-libp2p-'))
    await initNodeKeys({ dataDir })
    const keys = await loadNodeKeys({ dataDir })
    const config = defaultNodeConfig({ HOME: dataDir })
    config.dataDir = dataDir
    config.api.port = 0

    // A minimal host standing in for the network layer's: what matters here is the registry.
    const p2pService = (registry: Registry): P2PService => {
      let node: Libp2p | undefined
      return {
        peerId: keys.peerId.toString(),
        listenAddresses: () => node?.getMultiaddrs().map(String) ?? [],
        peers: async () =>
          (node?.getPeers() ?? []).map((peer) => ({
            peerId: peer.toString(),
            addresses: node!.getConnections(peer).map((connection) => connection.remoteAddr.toString()),
          })),
        async start() {
          node = await createLibp2p({
            privateKey: keys.privateKey,
            addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
            transports: [tcp()],
            connectionEncrypters: [noise()],
            streamMuxers: [yamux()],
            metrics: prometheusMetrics({
              registry,
              preserveExistingMetrics: true,
              collectDefaultMetrics: false,
            }),
          })
        },
        async stop() {
          await node?.stop()
        },
      }
    }
    daemon = createDaemon(config, {
      logger: createSilentLogger(),
      keys,
      node: {
        roles: [],
        async compose({ metrics, start }) {
          const p2p = p2pService(metrics.registry)
          await start('p2p', p2p)
          return { p2p, roles: [] }
        },
      },
    })
    await daemon.start()

    other = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    })
    const status = await getJson(`${daemon.apiUrl}/status`)
    const listen = status.json.network.listen as string[]
    expect(listen[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
    await other.dial(multiaddr(listen[0]!))

    const peers = await getJson(`${daemon.apiUrl}/peers`)
    expect(peers.json.peers.map((peer: { peerId: string }) => peer.peerId)).toContain(other.peerId.toString())

    const metrics = (await httpRequest(`${daemon.apiUrl}/metrics`)).body
    expect(metrics).toMatch(/^libp2p_/m)
    expect(metrics).toContain('ocn_build_info')
    expect(metrics).toContain('process_cpu_user_seconds_total')
  })
})
