import type { Registry } from 'prom-client'
import type { ChainService, ExecutorService, P2PService, RoleService } from '../api/services.js'
import type { NodeConfig, NodeRole } from '../config/options.js'
import type { Logger } from '../core/logger.js'
import type { NodeKeys } from '../keys/keystore.js'
import type { MetricsFactory } from '../metrics/index.js'
import type { StateStore } from '../state/store.js'

/** What the daemon hands to each service factory: the shared parts, never globals. */
export interface DaemonServices {
  config: NodeConfig
  logger: Logger
  metrics: MetricsFactory
  state: StateStore
  keys?: NodeKeys
  p2p?: P2PService
  chain?: ChainService
  executor?: ExecutorService
}

export type ServiceFactory<T> = (services: DaemonServices) => T

/**
 * The components bag of `createDaemon`. Everything is optional: the daemon runs its state
 * store, logger, metrics and local API on its own, and the layers are plugged in as
 * factories when they exist. Factories run in order chain, executor, p2p, roles, each
 * seeing the services created before it.
 */
export interface DaemonComponents {
  logger?: Logger
  /** Shared prom-client registry (libp2p registers into it too). */
  registry?: Registry
  /** Replaces the LevelDB store in `<dataDir>/state` (tests, alternative stores). */
  state?: StateStore
  keys?: NodeKeys
  chain?: ServiceFactory<ChainService>
  executor?: ServiceFactory<ExecutorService>
  p2p?: ServiceFactory<P2PService>
  roles?: Partial<Record<NodeRole, ServiceFactory<RoleService>>>
}
