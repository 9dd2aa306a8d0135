/**
 * What the local API reads from a daemon: its status, the job store, and whatever the
 * services it composed offer (peers, balances, the requester's submit and result files).
 */
import type { Registry } from 'prom-client'
import type { ApiProviders, ChainDeployment, NodeStatus, ServiceState } from '../api/interface.js'
import type { ChainService } from '../api/services.js'
import type { NodeConfig } from '../config/options.js'
import type { ProgressHub } from '../core/progress.js'
import type { NodeKeys } from '../keys/keystore.js'
import { type MetricsFactory, renderMetrics } from '../metrics/index.js'
import { type JobState, jobStates } from '../state/job-state.js'
import type { StateStore } from '../state/store.js'
import type { ComposedServices, DaemonStatus } from './interface.js'
import { addRoleSummaries } from './role-summaries.js'
import { nodeVersion } from './version.js'

/** The daemon as it stands now; read on each call, since it changes as it starts and stops. */
export interface DaemonView {
  status(): DaemonStatus
  startedAt(): number
  apiRunning(): boolean
  services(): ComposedServices
}

interface DaemonParts {
  config: NodeConfig
  state: StateStore
  registry: Registry
  keys: NodeKeys | undefined
  progress: ProgressHub
}

export async function countJobs(state: StateStore): Promise<Partial<Record<JobState, number>>> {
  const counts: Partial<Record<JobState, number>> = {}
  for (const job of await state.listJobs()) counts[job.state] = (counts[job.state] ?? 0) + 1
  return counts
}

/** The daemon's own gauges; returns the start-time gauge, set once the node runs. */
export function registerDaemonMetrics(metrics: MetricsFactory, state: StateStore, view: DaemonView) {
  metrics.gauge({
    name: 'jobs',
    help: 'Jobs in the local store by state',
    labelNames: ['state'] as const,
    async collect() {
      if (view.status() !== 'running') return
      const counts = await countJobs(state)
      for (const jobState of jobStates) this.set({ state: jobState }, counts[jobState] ?? 0)
    },
  })
  const startTime = metrics.gauge({ name: 'daemon_start_time_seconds', help: 'Unix time the daemon started' })
  metrics
    .gauge({ name: 'build_info', help: 'Version of the running node', labelNames: ['version'] as const })
    .set({ version: nodeVersion() }, 1)
  return startTime
}

async function nodeStatus(parts: DaemonParts, view: DaemonView): Promise<NodeStatus> {
  const { config, state, keys } = parts
  const { chain, executor, p2p, roles } = view.services()
  const startedAt = view.startedAt()
  const serviceState = (present: boolean): ServiceState => {
    if (!present) return 'absent'
    return view.status() === 'running' ? 'running' : 'stopped'
  }
  const result: NodeStatus = {
    version: nodeVersion(),
    roles: config.roles,
    startedAt,
    uptimeMs: startedAt === 0 ? 0 : Date.now() - startedAt,
    services: {
      state: serviceState(true),
      api: serviceState(view.apiRunning()),
      chain: serviceState(chain !== undefined),
      executor: serviceState(executor !== undefined),
      p2p: serviceState(p2p !== undefined),
      ...Object.fromEntries(roles.map((role) => [`role:${role.role}`, serviceState(true)])),
    },
    jobs: await countJobs(state),
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
    const deployment = loadedDeployment(chain)
    if (deployment !== undefined) result.chain.deployment = deployment
  }
  if (p2p !== undefined) {
    result.network = { listen: p2p.listenAddresses(), peers: (await p2p.peers()).length }
  }
  return result
}

/** The deployment's contracts as the status shows them; undefined before the chain service loaded it. */
function loadedDeployment(chain: ChainService): ChainDeployment | undefined {
  let deployment: ChainService['deployment']
  try {
    deployment = chain.deployment
  } catch {
    return undefined
  }
  if (deployment === undefined) return undefined
  const contracts: Record<string, string> = {}
  for (const [name, address] of Object.entries(deployment.addresses))
    if (typeof address === 'string') contracts[name] = address
  return { contracts, deployBlock: deployment.deployBlock }
}

/** The providers a daemon has before it starts anything: status, jobs, bids and metrics. */
export function createApiProviders(parts: DaemonParts, view: DaemonView): ApiProviders {
  const { config, state, registry } = parts
  const providers: ApiProviders = {
    status: () => nodeStatus(parts, view),
    jobs: (query) => state.listJobs(query),
    job: (id) => state.getJob(id),
    bids: (query) => state.listBids(query.jobId),
    onJobWritten: (listener) => state.onJobWritten(listener),
    onProgress: (listener) => parts.progress.subscribe(listener),
    async metrics() {
      return renderMetrics(registry)
    },
  }
  if (!config.metrics.enabled) delete providers.metrics
  return providers
}

/**
 * Adds what the composed services offer: the first role that can answer each call answers it;
 * with the node's config and store, also the role views' summaries (role-summaries.ts).
 */
export function addServiceProviders(
  providers: ApiProviders,
  services: ComposedServices,
  keys: NodeKeys | undefined,
  own?: { config: NodeConfig; state: StateStore },
): void {
  if (own !== undefined) addRoleSummaries(providers, { ...own, services, keys })
  const { roles, chain, p2p } = services
  const submitter = roles.find((role) => role.submitJob !== undefined)
  if (submitter !== undefined) providers.submitJob = (request, call) => submitter.submitJob!(request, call)
  const resultSource = roles.find((role) => role.jobResults !== undefined)
  if (resultSource !== undefined) providers.jobResults = (id, call) => resultSource.jobResults!(id, call)
  const tokenSource = roles.find((role) => role.onTokens !== undefined)
  if (tokenSource !== undefined) providers.onTokens = (listener) => tokenSource.onTokens!(listener)
  const resultReader = roles.find((role) => role.openJobResult !== undefined)
  if (resultReader !== undefined)
    providers.openJobResult = (id, name, call) => resultReader.openJobResult!(id, name, call)
  const offerSources = roles.filter((role) => role.offers !== undefined)
  if (offerSources.length > 0) {
    providers.offers = async () => (await Promise.all(offerSources.map((role) => role.offers!()))).flat()
  }
  if (chain !== undefined && keys !== undefined) {
    const address = keys.info.address
    providers.balances = () => chain.balances(address)
    for (const action of ['stake', 'unstake', 'deposit', 'withdraw'] as const) {
      const send = chain[action]?.bind(chain)
      if (send === undefined) continue
      providers[action] = async ({ amount }) => {
        const transaction = await send(amount)
        return { transaction, balances: await chain.balances(address) }
      }
    }
  }
  if (p2p !== undefined) providers.peers = () => p2p.peers()
  const network = p2p?.network?.bind(p2p)
  if (network !== undefined) providers.network = () => network()
}
