/**
 * Wiring: the real parts of a node, as the factories `createDaemon` takes. The chain service
 * (viem on `chain.rpcUrl` with the node's EVM key), the executor (ONNX Runtime worker pool),
 * the network (libp2p host, gossip, bid/artifact/result protocols) over the artifact store,
 * and the role services named in `config.roles`, each receiving the concrete parts it runs on.
 */
import { isAbsolute, join } from 'node:path'
import type { Registry } from 'prom-client'
import type { ExecutorService, P2PService, RoleService } from '../api/services.js'
import type { ArtifactStore } from '../artifacts/store.js'
import { createArtifactStore } from '../artifacts/store.js'
import { createChainService, type OcnChainService } from '../chain/service.js'
import type { NodeConfig, NodeRole } from '../config/options.js'
import type { Logger } from '../core/logger.js'
import type { DaemonComponents, ServiceFactory } from '../daemon/interface.js'
import { createExecutor, type Executor } from '../executor/executor.js'
import type { NodeKeys } from '../keys/keystore.js'
import { createMetricsRegistry } from '../metrics/index.js'
import { createNetwork, type Network } from '../p2p/network.js'
import { createArbiterRole } from '../roles/arbiter/index.js'
import type { RoleOptions } from '../roles/options.js'
import { createProviderRole, type ProviderFaultPlan } from '../roles/provider/index.js'
import { createRequesterRole } from '../roles/requester/index.js'
import { createPeerDirectory, type PeerDirectory, type RoleComponents } from '../roles/shared.js'
import { createVerifierRole } from '../roles/verifier/index.js'

export interface NodeComponentsOptions {
  registry?: Registry
  logger?: Logger
  /** role timing knobs (tests shorten them) */
  roles?: Partial<RoleOptions>
  /** event watcher poll interval */
  chainPollIntervalMs?: number
  /** processes in the executor pool (default: the executor's, one per core) */
  executorPoolSize?: number
  /** devnet and tests: the provider's fault plan (an honest provider when absent) */
  providerFaults?: ProviderFaultPlan
}

/** What the wiring built, for callers (tests, the devnet) that need the concrete parts. */
export interface NodeParts {
  chain?: OcnChainService
  executor?: Executor
  network?: Network
  store?: ArtifactStore
  roles: Partial<Record<NodeRole, RoleService>>
}

export interface NodeComponents extends DaemonComponents {
  parts: NodeParts
}

/** The provider role, with the fault plan the caller composed in (none: honest). */
function providerRole(faults: ProviderFaultPlan | undefined): (c: RoleComponents) => RoleService {
  return (c) => createProviderRole(c, faults === undefined ? {} : { faults })
}

export function createNodeComponents(
  config: NodeConfig,
  keys: NodeKeys,
  options: NodeComponentsOptions = {},
): NodeComponents {
  const registry = options.registry ?? createMetricsRegistry()
  const parts: NodeParts = { roles: {} }
  let directory: PeerDirectory | undefined

  const chain: ServiceFactory<OcnChainService> = ({ state, logger }) => {
    const deploymentFile = isAbsolute(config.chain.deploymentFile)
      ? config.chain.deploymentFile
      : join(config.dataDir, config.chain.deploymentFile)
    parts.chain = createChainService(
      {
        rpcUrl: config.chain.rpcUrl,
        account: keys.account,
        deploymentFile,
        confirmations: config.chain.confirmations,
        ...(options.chainPollIntervalMs === undefined ? {} : { pollIntervalMs: options.chainPollIntervalMs }),
      },
      { state, logger },
    )
    return parts.chain
  }

  const executor: ServiceFactory<ExecutorService> = ({ logger }) => {
    const ex = createExecutor(
      options.executorPoolSize === undefined ? {} : { options: { poolSize: options.executorPoolSize } },
      { logger: logger.child({ component: 'executor' }), metricsRegistry: registry },
    )
    parts.executor = ex
    return { start: () => ex.start(), stop: () => ex.stop(), devices: () => config.provider.devices }
  }

  const p2p: ServiceFactory<P2PService> = ({ logger }) => {
    const netLogger = logger.child({ component: 'p2p' })
    const service: P2PService = {
      peerId: keys.peerId.toString(),
      listenAddresses: () => parts.network?.host.getMultiaddrs().map((a) => a.toString()) ?? [],
      async peers() {
        const host = parts.network?.host
        if (host === undefined) return []
        return host
          .getConnections()
          .map((c) => ({ peerId: c.remotePeer.toString(), addresses: [c.remoteAddr.toString()] }))
      },
      async start() {
        const store = createArtifactStore(
          { directory: join(config.dataDir, 'artifacts') },
          { logger: netLogger, registry },
        )
        await store.start()
        parts.store = store
        const domain = parts.chain?.domain
        const network = await createNetwork(
          {
            host: {
              privateKey: keys.privateKey,
              listen: config.network.listen,
              bootstrap: config.network.bootstrap,
              mdns: config.network.mdns,
              gossip: {
                ...(domain === undefined
                  ? {}
                  : { chainId: domain.chainId, market: domain.verifyingContract }),
                ipColocationWhitelist: ['127.0.0.1'],
              },
            },
            ...(domain === undefined ? {} : { bids: { domain } }),
          },
          { logger: netLogger, store, registry },
        )
        await network.start()
        parts.network = network
        directory = createPeerDirectory(network)
      },
      async stop() {
        directory?.stop()
        await parts.network?.stop()
        await parts.store?.stop()
      },
    }
    return service
  }

  const roleFactory =
    (role: NodeRole, create: (c: RoleComponents) => RoleService): ServiceFactory<RoleService> =>
    ({ state, logger, metrics }) => {
      const need = <T>(value: T | undefined, what: string): T => {
        if (value === undefined) throw new Error(`the ${role} role needs the ${what}, which is not running`)
        return value
      }
      const service = create({
        config,
        logger,
        state,
        keys,
        chain: need(parts.chain, 'chain service'),
        network: need(parts.network, 'network'),
        store: need(parts.store, 'artifact store'),
        executor: need(parts.executor, 'executor'),
        directory: need(directory, 'peer directory'),
        metrics,
        ...(options.roles === undefined ? {} : { options: options.roles }),
      })
      parts.roles[role] = service
      return service
    }

  // a node without roles is only its state store and API: it needs no chain or network
  const active = config.roles.length > 0
  return {
    registry,
    keys,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(active ? { chain, executor, p2p } : {}),
    roles: {
      provider: roleFactory('provider', providerRole(options.providerFaults)),
      requester: roleFactory('requester', createRequesterRole),
      verifier: roleFactory('verifier', createVerifierRole),
      arbiter: roleFactory('arbiter', createArbiterRole),
    },
    parts,
  }
}
