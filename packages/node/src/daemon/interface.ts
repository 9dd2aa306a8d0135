import type { Registry } from 'prom-client'
import type { ChainService, ExecutorService, P2PService, RoleService } from '../api/services.js'
import type { NodeRole } from '../config/options.js'
import type { Startable } from '../core/lifecycle.js'
import type { Logger } from '../core/logger.js'
import type { ProgressHub } from '../core/progress.js'
import type { NodeKeys } from '../keys/keystore.js'
import type { MetricsFactory } from '../metrics/index.js'
import type { StateStore } from '../state/store.js'

export type DaemonStatus = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped'

/**
 * What the daemon lends a composition: its shared parts (never globals), and `start`, which
 * starts a part and has the daemon stop it, in reverse order, on stop or when a later part
 * fails to start.
 */
export interface ComposeContext {
  logger: Logger
  metrics: MetricsFactory
  state: StateStore
  /** long work's progress, served on `GET /events?progress=1` */
  progress: ProgressHub
  start(name: string, part: Startable): Promise<void>
}

/** The services a composition started, as the daemon and its API see them. */
export interface ComposedServices {
  chain?: ChainService
  executor?: ExecutorService
  p2p?: P2PService
  roles: RoleService[]
}

/** The parts of a node between the daemon's state store and its API. */
export interface NodeComposition {
  /** the roles it can run: one enabled in the config but not here is refused at creation */
  readonly roles: readonly NodeRole[]
  compose(context: ComposeContext): Promise<ComposedServices>
}

/**
 * What `createDaemon` runs on. Everything is optional: without a composition the daemon is
 * its state store, logger, metrics and local API.
 */
export interface DaemonComponents {
  logger?: Logger
  /** Shared prom-client registry (libp2p registers into it too). */
  registry?: Registry
  /** Replaces the LevelDB store in `<dataDir>/state` (tests, alternative stores). */
  state?: StateStore
  keys?: NodeKeys
  node?: NodeComposition
}
