import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Registry } from 'prom-client'
import type { ApiProviders, ServiceState } from '../api/interface.js'
import { type ApiServer, createApiServer } from '../api/server.js'
import type { ChainService, ExecutorService, P2PService, RoleService } from '../api/services.js'
import type { NodeConfig } from '../config/options.js'
import { NodeError } from '../core/errors.js'
import type { Startable } from '../core/lifecycle.js'
import { createLogger, type Logger } from '../core/logger.js'
import type { NodeKeys } from '../keys/keystore.js'
import {
  createMetricsFactory,
  createMetricsRegistry,
  type MetricsFactory,
  renderMetrics,
} from '../metrics/index.js'
import { type JobState, jobStates } from '../state/job-state.js'
import { STATE_DIR_NAME } from '../state/options.js'
import { createStateStore, type StateStore } from '../state/store.js'
import { DaemonError } from './errors.js'
import type { DaemonComponents, DaemonServices } from './interface.js'
import { API_RUNTIME_FILE, type DaemonOptions, defaultDaemonOptions } from './options.js'
import { nodeVersion } from './version.js'

export type DaemonStatus = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped'

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

interface RunningPart {
  name: string
  part: Startable
}

/**
 * The daemon skeleton: it owns the state store, logger, metrics and local API, and runs
 * whatever chain, executor, p2p and role services the components bag provides. A role
 * enabled in the config without a service to run it is an error at creation, not a
 * silent no-op.
 */
export function createDaemon(
  config: NodeConfig,
  components: DaemonComponents = {},
  options: DaemonOptions = {},
): Daemon {
  const stopTimeoutMs = options.stopTimeoutMs ?? defaultDaemonOptions.stopTimeoutMs
  const missingRoles = config.roles.filter((role) => components.roles?.[role] === undefined)
  if (missingRoles.length > 0) {
    throw new DaemonError(
      'DAEMON_ROLE_UNAVAILABLE',
      `role ${missingRoles.join(', ')} is enabled in the config but not available in this build`,
      { details: 'remove it from "roles" (or OCN_ROLES / --role) to run the node without it' },
    )
  }

  const logger = components.logger ?? createLogger({ level: config.logLevel, format: config.logFormat })
  const registry = components.registry ?? createMetricsRegistry()
  const metrics = createMetricsFactory(registry)
  const state = components.state ?? createStateStore({ path: join(config.dataDir, STATE_DIR_NAME) })
  const keys: NodeKeys | undefined = components.keys
  const runtimeFile = join(config.dataDir, API_RUNTIME_FILE)

  let status: DaemonStatus = 'idle'
  let startedAt = 0
  let chain: ChainService | undefined
  let executor: ExecutorService | undefined
  let p2p: P2PService | undefined
  let roles: RoleService[] = []
  let api: ApiServer | undefined
  const running: RunningPart[] = []
  let starting: Promise<void> | undefined
  let stopping: Promise<void> | undefined

  metrics.gauge({
    name: 'jobs',
    help: 'Jobs in the local store by state',
    labelNames: ['state'] as const,
    async collect() {
      if (status !== 'running') return
      const counts = await countJobs()
      for (const jobState of jobStates) this.set({ state: jobState }, counts[jobState] ?? 0)
    },
  })
  const startTime = metrics.gauge({ name: 'daemon_start_time_seconds', help: 'Unix time the daemon started' })
  metrics
    .gauge({ name: 'build_info', help: 'Version of the running node', labelNames: ['version'] as const })
    .set({ version: nodeVersion() }, 1)

  async function countJobs(): Promise<Partial<Record<JobState, number>>> {
    const counts: Partial<Record<JobState, number>> = {}
    for (const job of await state.listJobs()) counts[job.state] = (counts[job.state] ?? 0) + 1
    return counts
  }

  function services(): DaemonServices {
    return {
      config,
      logger,
      metrics,
      state,
      ...(keys === undefined ? {} : { keys }),
      ...(chain === undefined ? {} : { chain }),
      ...(executor === undefined ? {} : { executor }),
      ...(p2p === undefined ? {} : { p2p }),
    }
  }

  function serviceState(present: boolean): ServiceState {
    if (!present) return 'absent'
    return status === 'running' ? 'running' : 'stopped'
  }

  const providers: ApiProviders = {
    async status() {
      const result: Awaited<ReturnType<ApiProviders['status']>> = {
        version: nodeVersion(),
        roles: config.roles,
        startedAt,
        uptimeMs: startedAt === 0 ? 0 : Date.now() - startedAt,
        services: {
          state: serviceState(true),
          api: serviceState(api !== undefined),
          chain: serviceState(chain !== undefined),
          executor: serviceState(executor !== undefined),
          p2p: serviceState(p2p !== undefined),
          ...Object.fromEntries(roles.map((role) => [`role:${role.role}`, serviceState(true)])),
        },
        jobs: await countJobs(),
      }
      if (keys !== undefined) {
        result.address = keys.info.address
        result.peerId = keys.info.peerId
      }
      const cursor = await state.getChainCursor()
      result.chain = { rpcUrl: config.chain.rpcUrl }
      if (cursor !== undefined) result.chain.cursor = cursor.blockNumber
      if (chain !== undefined) {
        // The status must answer even when the RPC endpoint is down; it then omits live chain data.
        const [chainId, blockNumber] = await Promise.allSettled([chain.chainId(), chain.blockNumber()])
        if (chainId.status === 'fulfilled') result.chain.chainId = chainId.value
        if (blockNumber.status === 'fulfilled') result.chain.blockNumber = blockNumber.value
      }
      if (p2p !== undefined) {
        result.network = { listen: p2p.listenAddresses(), peers: (await p2p.peers()).length }
      }
      return result
    },
    jobs: (query) => state.listJobs(query),
    job: (id) => state.getJob(id),
    bids: (query) => state.listBids(query.jobId),
    async metrics() {
      return renderMetrics(registry)
    },
  }
  if (!config.metrics.enabled) delete providers.metrics

  async function startPart(name: string, part: Startable): Promise<void> {
    logger.debug({ service: name }, 'starting service')
    await part.start()
    running.push({ name, part })
  }

  async function stopWithTimeout(name: string, part: Startable): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), stopTimeoutMs)
    })
    try {
      const outcome = await Promise.race([part.stop().then(() => 'stopped' as const), timeout])
      if (outcome === 'timeout')
        logger.warn({ service: name, timeoutMs: stopTimeoutMs }, 'service did not stop in time')
    } catch (error) {
      logger.error({ service: name, err: error }, 'service failed to stop cleanly')
    } finally {
      clearTimeout(timer)
    }
  }

  async function stopRunning(): Promise<void> {
    while (running.length > 0) {
      const { name, part } = running.pop()!
      await stopWithTimeout(name, part)
    }
  }

  const daemon: Daemon = {
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
      return {
        ...(chain === undefined ? {} : { chain }),
        ...(executor === undefined ? {} : { executor }),
        ...(p2p === undefined ? {} : { p2p }),
        roles,
      }
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

  async function startAll(): Promise<void> {
    try {
      await startPart('state', { start: () => state.open(), stop: () => state.close() })
      if (components.chain !== undefined) {
        chain = components.chain(services())
        await startPart('chain', chain)
      }
      if (components.executor !== undefined) {
        executor = components.executor(services())
        await startPart('executor', executor)
      }
      if (components.p2p !== undefined) {
        p2p = components.p2p(services())
        await startPart('p2p', p2p)
      }
      for (const role of config.roles) {
        const service = components.roles![role]!(services())
        roles = [...roles, service]
        await startPart(`role:${role}`, service)
      }
      const submitter = roles.find((role) => role.submitJob !== undefined)
      if (submitter !== undefined)
        providers.submitJob = (request, call) => submitter.submitJob!(request, call)
      const resultSource = roles.find((role) => role.jobResults !== undefined)
      if (resultSource !== undefined) providers.jobResults = (id, call) => resultSource.jobResults!(id, call)
      const resultReader = roles.find((role) => role.openJobResult !== undefined)
      if (resultReader !== undefined)
        providers.openJobResult = (id, name, call) => resultReader.openJobResult!(id, name, call)
      const offerSources = roles.filter((role) => role.offers !== undefined)
      if (offerSources.length > 0) {
        providers.offers = async () => (await Promise.all(offerSources.map((role) => role.offers!()))).flat()
      }
      if (chain !== undefined && keys !== undefined) {
        const client = chain
        const address = keys.info.address
        providers.balances = () => client.balances(address)
      }
      if (p2p !== undefined) {
        const host = p2p
        providers.peers = () => host.peers()
      }
      if (config.api.enabled) {
        const server = createApiServer(
          { host: config.api.host, port: config.api.port },
          { providers, logger: logger.child({ component: 'api' }), metrics },
        )
        await startPart('api', server)
        api = server
        await writeFile(
          runtimeFile,
          `${JSON.stringify({ url: server.url, pid: process.pid, startedAt })}\n`,
          { mode: 0o600 },
        )
      }
      startTime.set(startedAt / 1000)
      status = 'running'
      logger.info({ roles: config.roles, api: api?.url, dataDir: config.dataDir }, 'node started')
    } catch (cause) {
      logger.error({ err: cause }, 'node failed to start; stopping what started')
      await stopRunning()
      api = undefined
      status = 'stopped'
      if (cause instanceof NodeError) throw cause
      throw new DaemonError('DAEMON_START_FAILED', 'the node failed to start', {
        cause,
        details: (cause as Error).message,
      })
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
    await stopRunning()
    api = undefined
    status = 'stopped'
    logger.info('node stopped')
  }

  return daemon
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
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
