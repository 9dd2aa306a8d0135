/**
 * The composition root of a real node. Between the daemon's state store and its API it
 * builds and starts, in order: the chain service, the artifact store and the network (its
 * gossip and bids bound to the market's EIP-712 domain, known once the chain service has
 * started), the executor, the peer directory, then each enabled role. Every factory gets its
 * own slice of the config and the parts it runs on, already running; the daemon stops them
 * in reverse order.
 */
import { isAbsolute, join } from 'node:path'
import type { ExecutorService, P2PService, RoleService } from '../api/services.js'
import type { ArtifactStore } from '../artifacts/store.js'
import { createArtifactStore } from '../artifacts/store.js'
import { readRequesterFunds } from '../chain/reads.js'
import { type ChainServiceInit, createChainService, type OcnChainService } from '../chain/service.js'
import { type NodeConfig, type NodeRole, nodeRoles } from '../config/options.js'
import { createExecutor, type Executor } from '../executor/executor.js'
import type { NodeKeys } from '../keys/keystore.js'
import { createNetwork, type Network } from '../p2p/network.js'
import { networkSummary } from '../p2p/network-summary.js'
import { processAttributor } from '../roles/attribution.js'
import { defaultRoleOptions, type RoleOptions } from '../roles/options.js'
import { createProviderRole, type ProviderFaultPlan } from '../roles/provider/index.js'
import { createRequesterRole } from '../roles/requester/index.js'
import { createPeerDirectory, type RoleComponents } from '../roles/shared.js'
import { createVerifierRole } from '../roles/verifier/index.js'
import { defaultZkDir } from '../roles/zk.js'
import type { ComposeContext, ComposedServices, NodeComposition } from './interface.js'

export interface NodeCompositionOptions {
  /** role timing knobs (tests shorten them) */
  roles?: Partial<RoleOptions>
  /** event watcher poll interval */
  chainPollIntervalMs?: number
  /** processes in the executor pool (default: the executor's, one per core) */
  executorPoolSize?: number
  /** devnet and tests: the provider's fault plan (an honest provider when absent) */
  providerFaults?: ProviderFaultPlan
}

/** What the composition built, for callers (tests, the devnet) that need the concrete parts. */
export interface NodeParts {
  chain?: OcnChainService
  executor?: Executor
  network?: Network
  store?: ArtifactStore
  roles: Partial<Record<NodeRole, RoleService>>
}

function chainInit(config: NodeConfig, keys: NodeKeys, options: NodeCompositionOptions): ChainServiceInit {
  const { chain } = config
  return {
    rpcUrl: chain.rpcUrl,
    account: keys.account,
    deploymentFile: isAbsolute(chain.deploymentFile)
      ? chain.deploymentFile
      : join(config.dataDir, chain.deploymentFile),
    confirmations: chain.confirmations,
    ...(options.chainPollIntervalMs === undefined ? {} : { pollIntervalMs: options.chainPollIntervalMs }),
  }
}

/** The network as the daemon's API sees it. */
function p2pService(network: Network, keys: NodeKeys): P2PService {
  return {
    peerId: keys.peerId.toString(),
    listenAddresses: () => network.host.getMultiaddrs().map((a) => a.toString()),
    async peers() {
      return network.host
        .getConnections()
        .map((c) => ({ peerId: c.remotePeer.toString(), addresses: [c.remoteAddr.toString()] }))
    },
    network: async () => networkSummary(network.host),
    start: () => network.start(),
    stop: () => network.stop(),
  }
}

/** The artifact store and the network over it, for the market `chain` serves. */
async function startNetwork(
  config: NodeConfig,
  keys: NodeKeys,
  chain: OcnChainService,
  context: ComposeContext,
): Promise<{ store: ArtifactStore; network: Network; p2p: P2PService }> {
  const logger = context.logger.child({ component: 'p2p' })
  const registry = context.metrics.registry
  const store = createArtifactStore({ directory: join(config.dataDir, 'artifacts') }, { logger, registry })
  await context.start('artifacts', store)
  const { domain } = chain
  const network = await createNetwork(
    {
      host: {
        privateKey: keys.privateKey,
        listen: config.network.listen,
        announce: config.network.announce,
        bootstrap: config.network.bootstrap,
        mdns: config.network.mdns,
        gossip: {
          chainId: domain.chainId,
          market: domain.verifyingContract,
          ipColocationWhitelist: ['127.0.0.1'],
        },
      },
      bids: { domain },
    },
    {
      logger,
      store,
      registry,
      // offers are accepted only from requesters whose balance covers their maxPrice
      readFunds: (requester) => readRequesterFunds(chain.client, chain.deployment, requester),
    },
  )
  // an award moves the requester's tokens (or its deposit) into escrow, a deposit or a
  // withdrawal moves them between its wallet and the market: read its funds again on the next offer
  chain.onEvents((events) => {
    for (const event of events) {
      if (event.eventName === 'JobAwarded') network.funds?.invalidate(event.args.requester)
      if (event.eventName === 'BalanceDeposited' || event.eventName === 'BalanceWithdrawn')
        network.funds?.invalidate(event.args.account)
    }
  })
  const p2p = p2pService(network, keys)
  await context.start('p2p', p2p)
  return { store, network, p2p }
}

async function startExecutor(
  config: NodeConfig,
  options: NodeCompositionOptions,
  context: ComposeContext,
): Promise<{ executor: Executor; service: ExecutorService }> {
  const executor = createExecutor(
    options.executorPoolSize === undefined ? {} : { options: { poolSize: options.executorPoolSize } },
    { logger: context.logger.child({ component: 'executor' }), metricsRegistry: context.metrics.registry },
  )
  const service: ExecutorService = {
    start: () => executor.start(),
    stop: () => executor.stop(),
    devices: () => config.provider.devices,
  }
  await context.start('executor', service)
  return { executor, service }
}

/** Each role from its own slice: its config section, the timing options, and where circuits live. */
function createRole(
  role: NodeRole,
  config: NodeConfig,
  options: NodeCompositionOptions,
  components: RoleComponents,
): RoleService {
  const timing: RoleOptions = { ...defaultRoleOptions, ...options.roles }
  const zkDir = defaultZkDir(config.dataDir)
  switch (role) {
    case 'provider': {
      const faults = options.providerFaults
      return createProviderRole(
        { ...config.provider, ...timing, zkDir },
        components,
        faults === undefined ? {} : { faults },
      )
    }
    case 'requester':
      return createRequesterRole({ ...config.requester, ...timing, zkDir }, components)
    case 'verifier':
      return createVerifierRole({ ...config.verifier, ...timing }, components)
  }
}

/**
 * A real node's composition: the factories of every layer, run in order when the daemon
 * starts. `parts` is filled in as each part is built, for callers that need the concrete parts.
 */
export function composeNode(
  config: NodeConfig,
  keys: NodeKeys,
  options: NodeCompositionOptions = {},
  parts: NodeParts = { roles: {} },
): NodeComposition {
  async function compose(context: ComposeContext): Promise<ComposedServices> {
    // a node without roles is only its state store and API: it needs no chain or network
    if (config.roles.length === 0) return { roles: [] }
    const chain = createChainService(chainInit(config, keys, options), {
      state: context.state,
      logger: context.logger,
    })
    await context.start('chain', chain)
    parts.chain = chain
    const { store, network, p2p } = await startNetwork(config, keys, chain, context)
    parts.store = store
    parts.network = network
    const executor = await startExecutor(config, options, context)
    parts.executor = executor.executor
    const directory = createPeerDirectory(network)
    await context.start('directory', { start: async () => {}, stop: async () => directory.stop() })
    const components: RoleComponents = {
      logger: context.logger,
      state: context.state,
      keys,
      chain,
      network,
      store,
      executor: executor.executor,
      directory,
      metrics: context.metrics,
      attributor: processAttributor(),
      progress: context.progress.report,
    }
    const roles: RoleService[] = []
    for (const role of config.roles) {
      const service = createRole(role, config, options, components)
      parts.roles[role] = service
      roles.push(service)
      await context.start(`role:${role}`, service)
    }
    return { chain, executor: executor.service, p2p, roles }
  }
  return { roles: nodeRoles, compose }
}
