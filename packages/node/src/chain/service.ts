/**
 * The daemon's chain service: a viem client on `chain.rpcUrl` that signs with the node's EVM
 * key, the protocol deployment it talks to, balances, chain time, and the protocol event
 * watcher whose cursor lives in the StateStore, so a restarted node resumes where it stopped.
 *
 * Roles subscribe with `onEvents`; every listener runs before the cursor moves on, so an event
 * is delivered at least once across restarts. Listeners must be idempotent (they check the
 * on-chain job status before acting) and quick: long work is started, not awaited.
 */
import type { Deployment, ModelStatus } from '@ocn/contracts-client'
import type { MarketDomain } from '@ocn/protocol'
import type { Address, Hash, Hex } from 'viem'
import type { Account } from 'viem/accounts'
import { getChainId } from 'viem/actions'
import type { ChainService } from '../api/services.js'
import type { Logger } from '../core/logger.js'
import type { StateStore } from '../state/store.js'
import {
  checkServesDeployment,
  createChainClient,
  createRpcTransport,
  type OcnChainClient,
} from './client.js'
import { resolveDeployment } from './deployment.js'
import { ChainServiceError } from './errors.js'
import { ProtocolEventFeed, type ProtocolEventListener } from './events.js'
import type { ModelStatusCache, ModelStatusReadOptions } from './models.js'
import { type ChainServiceOptions, defaultChainServiceOptions } from './options.js'
import {
  createRegistryStatusCache,
  readBalances,
  readBlockHash,
  readChainTime,
  readProviderRecord,
} from './reads.js'
import { depositFromNode, stakeFromNode, unstakeFromNode, withdrawFromNode } from './staking.js'

export type { OcnChainClient } from './client.js'
export { loadDeploymentFile } from './deployment.js'
export type { ProtocolEventListener } from './events.js'

export interface ChainServiceInit extends Partial<ChainServiceOptions> {
  rpcUrl: string
  account: Account
  /** the deployment itself, or a file written by deployProtocol/writeDeploymentFile */
  deployment?: Deployment
  deploymentFile?: string
}

export interface ChainServiceComponents {
  state: StateStore
  logger: Logger
}

/** The ChainService the daemon needs, plus what the roles use. */
export interface OcnChainService extends ChainService {
  readonly client: OcnChainClient
  readonly address: Address
  readonly deployment: Deployment
  readonly domain: MarketDomain
  readonly options: ChainServiceOptions
  stake(amount: bigint): Promise<string>
  unstake(amount: bigint): Promise<string>
  /** latest block timestamp (unix seconds): the clock the contracts judge deadlines by */
  chainTime(): Promise<bigint>
  blockHash(blockNumber: bigint): Promise<Hash | undefined>
  /** subscribes to protocol events (confirmed, in chain order); returns the unsubscribe */
  onEvents(listener: ProtocolEventListener): () => void
  /** one watcher poll now (tests; the service also polls on its own) */
  poll(): Promise<number>
  /**
   * Keeps the event polls at `pollIntervalMs` while `probe` returns true: work no job record
   * shows (a jury seat, a dispute kept). Returns the removal.
   */
  addWorkProbe(probe: () => boolean): () => void
  /**
   * Runs transactions of this node's account one at a time: two roles (or two jobs) sending
   * at once would read the same pending nonce and one transaction would be dropped.
   */
  serialize<T>(send: () => Promise<T>): Promise<T>
  /**
   * The model's status in the deployment's ModelRegistry (`none` when it has no record),
   * cached for `modelStatusTtlMs` unless `maxAgeMs` asks for a fresher read. Throws
   * CHAIN_NO_MODEL_REGISTRY when the deployment names no registry, CHAIN_TIMEOUT when the
   * read does not come back in `rpcTimeoutMs`.
   */
  modelStatus(modelHash: Hex, options?: ModelStatusReadOptions): Promise<ModelStatus>
}

function resolveOptions(init: Partial<ChainServiceOptions>): ChainServiceOptions {
  return {
    confirmations: init.confirmations ?? defaultChainServiceOptions.confirmations,
    pollIntervalMs: init.pollIntervalMs ?? defaultChainServiceOptions.pollIntervalMs,
    // a caller that sets its own poll interval (tests) gets no back-off unless it asks for one
    idlePollIntervalMs:
      init.idlePollIntervalMs ??
      (init.pollIntervalMs === undefined
        ? defaultChainServiceOptions.idlePollIntervalMs
        : init.pollIntervalMs),
    activeWindowMs: init.activeWindowMs ?? defaultChainServiceOptions.activeWindowMs,
    rpcTimeoutMs: init.rpcTimeoutMs ?? defaultChainServiceOptions.rpcTimeoutMs,
    modelStatusTtlMs: init.modelStatusTtlMs ?? defaultChainServiceOptions.modelStatusTtlMs,
  }
}

function need<T>(value: T | undefined): T {
  if (value === undefined)
    throw new ChainServiceError('CHAIN_NOT_STARTED', 'the chain service is not started')
  return value
}

/** Runs `send`s one after another, whether the one before succeeded or failed. */
function createSerialQueue(): <T>(send: () => Promise<T>) => Promise<T> {
  let sending: Promise<unknown> = Promise.resolve()
  return (send) => {
    const run = sending.then(send, send)
    sending = run.catch(() => {})
    return run
  }
}

export function createChainService(
  init: ChainServiceInit,
  components: ChainServiceComponents,
): OcnChainService {
  const options = resolveOptions(init)
  const log = components.logger.child({ component: 'chain' })
  const transport = createRpcTransport(init.rpcUrl, options.rpcTimeoutMs)
  const events = new ProtocolEventFeed({ state: components.state, log }, options)
  let client: OcnChainClient | undefined
  let deployment: Deployment | undefined = init.deployment
  let models: ModelStatusCache | undefined

  async function start(): Promise<void> {
    if (events.running) return
    deployment = await resolveDeployment({ deployment, deploymentFile: init.deploymentFile })
    const d = deployment
    client = createChainClient(init.rpcUrl, init.account, d, transport)
    const chainId = await checkServesDeployment(client, init.rpcUrl, d)
    const from = await events.watch(client, d)
    log.info({ rpcUrl: init.rpcUrl, chainId, from }, 'chain service started')
    events.pollContinuously()
  }

  const serialize = createSerialQueue()
  const staking = () => ({ client: need(client), deployment: need(deployment), serialize })
  return {
    rpcUrl: init.rpcUrl,
    options,
    get client() {
      return need(client)
    },
    get address() {
      return init.account.address
    },
    get deployment() {
      return need(deployment)
    },
    get domain() {
      const d = need(deployment)
      return { chainId: d.chainId, verifyingContract: d.addresses.jobMarket }
    },
    start,
    stop: () => events.stop(),
    chainId: async () => getChainId(need(client)),
    blockNumber: async () => need(client).getBlockNumber({ cacheTime: 0 }),
    chainTime: async () => readChainTime(need(client)),
    blockHash: async (blockNumber) => readBlockHash(need(client), blockNumber),
    balances: async (address) => readBalances(need(client), need(deployment), address),
    providerRecord: async (provider) => readProviderRecord(need(client), need(deployment), provider),
    onEvents: (listener) => events.subscribe(listener),
    poll: () => events.poll(),
    addWorkProbe: (probe) => events.addWorkProbe(probe),
    serialize,
    stake: (amount) => stakeFromNode(staking(), amount),
    unstake: (amount) => unstakeFromNode(staking(), amount),
    deposit: (amount) => depositFromNode(staking(), amount),
    withdraw: (amount) => withdrawFromNode(staking(), amount),
    async modelStatus(modelHash, readOptions) {
      models ??= createRegistryStatusCache(need(client), need(deployment), options)
      return models.status(modelHash, readOptions)
    },
  }
}
