import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Registry } from 'prom-client'
import type { ApiProviders } from '../api/interface.js'
import { type ApiServer, createApiServer } from '../api/server.js'
import type { ChainService, ExecutorService, P2PService, RoleService } from '../api/services.js'
import { readApiToken } from '../api/token.js'
import type { NodeConfig } from '../config/options.js'
import { NodeError } from '../core/errors.js'
import { createLogger, type Logger } from '../core/logger.js'
import { processAlive } from '../core/process.js'
import { createProgressHub } from '../core/progress.js'
import { createMetricsFactory, createMetricsRegistry, type MetricsFactory } from '../metrics/index.js'
import { STATE_DIR_NAME } from '../state/options.js'
import { createStateStore, type StateStore } from '../state/store.js'
import { DaemonError } from './errors.js'
import type { ComposedServices, DaemonComponents, DaemonStatus, NodeComposition } from './interface.js'
import { API_RUNTIME_FILE, type DaemonOptions, defaultDaemonOptions } from './options.js'
import {
  addServiceProviders,
  createApiProviders,
  type DaemonView,
  registerDaemonMetrics,
} from './providers.js'
import { createPartStack, type PartStack } from './stack.js'

export interface Daemon {
  readonly config: NodeConfig
  readonly logger: Logger
  readonly registry: Registry
  readonly metrics: MetricsFactory
  readonly state: StateStore
  readonly status: DaemonStatus
  /** URL of the local API while it runs. */
  readonly apiUrl: string | undefined
  readonly services: {
    readonly chain?: ChainService
    readonly executor?: ExecutorService
    readonly p2p?: P2PService
    readonly roles: readonly RoleService[]
  }
  start(): Promise<void>
  /** Stops everything in reverse order; safe to call more than once. */
  stop(): Promise<void>
}

/** A role enabled in the config without a composition to run it is an error, not a silent no-op. */
function refuseMissingRoles(config: NodeConfig, node: NodeComposition | undefined): void {
  const missing = config.roles.filter((role) => node?.roles.includes(role) !== true)
  if (missing.length > 0) {
    throw new DaemonError(
      'DAEMON_ROLE_UNAVAILABLE',
      `role ${missing.join(', ')} is enabled in the config but not available in this build`,
      { details: 'remove it from "roles" (or OCN_ROLES / --role) to run the node without it' },
    )
  }
}

/** A typed node error passes as it is; anything else becomes DAEMON_START_FAILED. */
function startFailure(cause: unknown): NodeError {
  if (cause instanceof NodeError) return cause
  return new DaemonError('DAEMON_START_FAILED', 'the node failed to start', {
    cause,
    details: (cause as Error).message,
  })
}

/** The local API, announced in the runtime file so `ocn status` finds a port chosen at random. */
async function startApi(
  config: NodeConfig,
  parts: { providers: ApiProviders; logger: Logger; metrics: MetricsFactory; stack: PartStack },
  startedAt: number,
  options: DaemonOptions,
): Promise<ApiServer> {
  // The token `ocn init` wrote, if any: POSTs then need it, and a non-loopback host needs it.
  const token = (await readApiToken(config.dataDir)) ?? ''
  const consoleDir = options.consoleDir ?? defaultDaemonOptions.consoleDir
  const server = createApiServer(
    {
      host: config.api.host,
      port: config.api.port,
      token,
      consoleDir,
      // files a client uploads for a job wait here (emptied at each start)
      uploadDir: join(config.dataDir, 'uploads'),
      devnetBoard: options.devnetBoard ?? defaultDaemonOptions.devnetBoard,
    },
    { providers: parts.providers, logger: parts.logger.child({ component: 'api' }), metrics: parts.metrics },
  )
  await parts.stack.start('api', server)
  await writeFile(
    join(config.dataDir, API_RUNTIME_FILE),
    `${JSON.stringify({ url: server.url, pid: process.pid, startedAt })}\n`,
    { mode: 0o600 },
  )
  return server
}

/**
 * The daemon: it owns the state store, logger, metrics and local API, and in between starts
 * the node's composition (the chain, network, executor and roles of a real node). Parts stop
 * in reverse order.
 */
export function createDaemon(
  config: NodeConfig,
  components: DaemonComponents = {},
  options: DaemonOptions = {},
): Daemon {
  refuseMissingRoles(config, components.node)
  const logger = components.logger ?? createLogger({ level: config.logLevel, format: config.logFormat })
  const registry = components.registry ?? createMetricsRegistry()
  const metrics = createMetricsFactory(registry)
  const state = components.state ?? createStateStore({ path: join(config.dataDir, STATE_DIR_NAME) })
  const keys = components.keys
  const runtimeFile = join(config.dataDir, API_RUNTIME_FILE)
  const stack = createPartStack(logger, options.stopTimeoutMs ?? defaultDaemonOptions.stopTimeoutMs)

  let status: DaemonStatus = 'idle'
  let startedAt = 0
  let services: ComposedServices = { roles: [] }
  let api: ApiServer | undefined
  let starting: Promise<void> | undefined
  let stopping: Promise<void> | undefined

  const view: DaemonView = {
    status: () => status,
    startedAt: () => startedAt,
    apiRunning: () => api !== undefined,
    services: () => services,
  }
  const startTime = registerDaemonMetrics(metrics, state, view)
  const progress = createProgressHub()
  const providers = createApiProviders({ config, state, registry, keys, progress }, view)

  async function startAll(): Promise<void> {
    try {
      await stack.start('state', { start: () => state.open(), stop: () => state.close() })
      if (components.node !== undefined) {
        services = await components.node.compose({ logger, metrics, state, progress, start: stack.start })
      }
      addServiceProviders(providers, services, keys, { config, state })
      if (config.api.enabled)
        api = await startApi(config, { providers, logger, metrics, stack }, startedAt, options)
      startTime.set(startedAt / 1000)
      status = 'running'
      logger.info({ roles: config.roles, api: api?.url, dataDir: config.dataDir }, 'node started')
    } catch (cause) {
      logger.error({ err: cause }, 'node failed to start; stopping what started')
      await stack.stopAll()
      api = undefined
      status = 'stopped'
      throw startFailure(cause)
    }
  }

  async function stopAll(): Promise<void> {
    // A stop during start waits for it, so nothing it starts is left running.
    if (status === 'starting') await starting?.catch(() => undefined)
    if (status !== 'running') {
      status = 'stopped'
      return
    }
    status = 'stopping'
    logger.info('node stopping')
    await rm(runtimeFile, { force: true })
    await stack.stopAll()
    api = undefined
    status = 'stopped'
    logger.info('node stopped')
  }

  return {
    config,
    logger,
    registry,
    metrics,
    state,
    get status() {
      return status
    },
    get apiUrl() {
      return api?.url
    },
    get services() {
      return services
    },
    start() {
      if (status !== 'idle') {
        return Promise.reject(
          new DaemonError('DAEMON_ALREADY_STARTED', `the daemon cannot start: it is ${status}`),
        )
      }
      status = 'starting'
      startedAt = Date.now()
      starting = startAll()
      return starting
    },
    stop() {
      stopping ??= stopAll()
      return stopping
    },
  }
}

/** Reads the runtime file a running daemon writes, or undefined when none runs. */
export async function readApiRuntimeFile(dataDir: string): Promise<{ url: string; pid: number } | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dataDir, API_RUNTIME_FILE), 'utf8')) as {
      url?: unknown
      pid?: unknown
    }
    if (typeof parsed.url === 'string' && typeof parsed.pid === 'number') {
      // A daemon killed with -9 leaves the file behind; a dead pid means no daemon.
      if (!processAlive(parsed.pid)) return undefined
      return { url: parsed.url, pid: parsed.pid }
    }
  } catch {
    // absent or unreadable: no daemon announced itself
  }
  return undefined
}
