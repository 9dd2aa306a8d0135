/**
 * The daemon's chain service: a viem client on `chain.rpcUrl` that signs with the node's EVM
 * key, the protocol deployment it talks to, balances, chain time, and the protocol event
 * watcher whose cursor lives in the StateStore, so a restarted node resumes where it stopped.
 *
 * Roles subscribe with `onEvents`; every listener runs before the cursor moves on, so an event
 * is delivered at least once across restarts. Listeners must be idempotent (they check the
 * on-chain job status before acting) and quick: long work is started, not awaited.
 */
import { readFile } from 'node:fs/promises'
import {
  createEventWatcher,
  type Deployment,
  type EventWatcher,
  getModel,
  getStake,
  getTokenBalance,
  type ModelStatus,
  type ProtocolEvent,
  parseDeployment,
  type WatcherCursor,
} from '@ocn/contracts-client'
import type { MarketDomain } from '@ocn/protocol'
import {
  type Address,
  createWalletClient,
  defineChain,
  type Hash,
  type Hex,
  http,
  type PublicActions,
  publicActions,
  type Transport,
  type WalletClient,
  webSocket,
} from 'viem'
import type { Account } from 'viem/accounts'
import { getBalance, getBlock, getChainId } from 'viem/actions'
import type { Balances } from '../api/interface.js'
import type { ChainService } from '../api/services.js'
import type { Logger } from '../core/logger.js'
import type { StateStore } from '../state/store.js'
import { ChainServiceError } from './errors.js'
import {
  createModelStatusCache,
  defaultModelStatusCacheOptions,
  type ModelStatusCache,
  type ModelStatusReadOptions,
} from './models.js'
import { type ChainServiceOptions, defaultChainServiceOptions } from './options.js'

export type OcnChainClient = WalletClient<Transport, ReturnType<typeof defineChain>, Account> & PublicActions

export type ProtocolEventListener = (events: ProtocolEvent[]) => Promise<void> | void

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
  /** latest block timestamp (unix seconds): the clock the contracts judge deadlines by */
  chainTime(): Promise<bigint>
  blockHash(blockNumber: bigint): Promise<Hash | undefined>
  /** subscribes to protocol events (confirmed, in chain order); returns the unsubscribe */
  onEvents(listener: ProtocolEventListener): () => void
  /** one watcher poll now (tests; the service also polls on its own) */
  poll(): Promise<number>
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

export async function loadDeploymentFile(path: string): Promise<Deployment> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new ChainServiceError('CHAIN_DEPLOYMENT_MISSING', `no deployment file at ${path}`, {
      cause,
      details: 'run `ocn devnet` for a local network, or set chain.deploymentFile to the deployment JSON',
    })
  }
  try {
    return parseDeployment(text)
  } catch (cause) {
    throw new ChainServiceError('CHAIN_DEPLOYMENT_INVALID', `the deployment file ${path} is not valid`, {
      cause,
      details: (cause as Error).message,
    })
  }
}

export function createChainService(
  init: ChainServiceInit,
  components: ChainServiceComponents,
): OcnChainService {
  const options: ChainServiceOptions = {
    confirmations: init.confirmations ?? defaultChainServiceOptions.confirmations,
    pollIntervalMs: init.pollIntervalMs ?? defaultChainServiceOptions.pollIntervalMs,
    rpcTimeoutMs: init.rpcTimeoutMs ?? defaultChainServiceOptions.rpcTimeoutMs,
    modelStatusTtlMs: init.modelStatusTtlMs ?? defaultChainServiceOptions.modelStatusTtlMs,
  }
  const log = components.logger.child({ component: 'chain' })
  const transport = /^wss?:/.test(init.rpcUrl)
    ? webSocket(init.rpcUrl, { timeout: options.rpcTimeoutMs })
    : http(init.rpcUrl, { timeout: options.rpcTimeoutMs, retryCount: 2 })
  let client: OcnChainClient | undefined
  let deployment: Deployment | undefined = init.deployment
  let watcher: EventWatcher | undefined
  let timer: NodeJS.Timeout | undefined
  let polling: Promise<number> | undefined
  let stopped = true
  const listeners = new Set<ProtocolEventListener>()
  let sending: Promise<unknown> = Promise.resolve()
  let models: ModelStatusCache | undefined

  function modelStatuses(): ModelStatusCache {
    if (models !== undefined) return models
    const c = need(client)
    const d = need(deployment)
    const registry = d.addresses.modelRegistry
    if (registry === undefined) {
      throw new ChainServiceError('CHAIN_NO_MODEL_REGISTRY', 'the deployment names no ModelRegistry', {
        details: 'add addresses.modelRegistry to the deployment file (deployProtocol writes it)',
      })
    }
    models = createModelStatusCache(
      async (modelHash) => (await getModel(c, { modelRegistry: registry, modelHash }))?.status ?? 'none',
      {
        ...defaultModelStatusCacheOptions,
        ttlMs: options.modelStatusTtlMs,
        timeoutMs: options.rpcTimeoutMs,
      },
    )
    return models
  }

  const need = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new ChainServiceError('CHAIN_NOT_STARTED', 'the chain service is not started')
    return value
  }

  async function deliver(events: ProtocolEvent[]): Promise<void> {
    for (const listener of listeners) {
      try {
        await listener(events)
      } catch (err) {
        // a failing role must not stop the others or wedge the cursor forever
        log.error({ err }, 'protocol event listener failed')
      }
    }
  }

  async function persistCursor(cursor: WatcherCursor | undefined): Promise<void> {
    if (cursor === undefined) return
    await components.state.setChainCursor({
      blockNumber: cursor.blockNumber,
      blockHash: cursor.blockHash,
      updatedAt: Date.now(),
    })
  }

  async function pollOnce(): Promise<number> {
    const w = need(watcher)
    const count = await w.poll()
    await persistCursor(w.cursor)
    return count
  }

  function poll(): Promise<number> {
    // One poll at a time. A caller arriving while one runs gets a fresh poll queued after
    // it, not the running one: that may have read the chain head before the caller's own
    // transaction was mined, and "poll() saw everything up to now" is what callers rely on.
    const previous = polling
    const run: Promise<number> = (
      previous === undefined ? pollOnce() : previous.catch(() => 0).then(pollOnce)
    ).finally(() => {
      if (polling === run) polling = undefined
    })
    polling = run
    return run
  }

  const loop = async () => {
    if (stopped) return
    await poll().catch((err: unknown) => log.warn({ err }, 'event watcher poll failed; retrying'))
    if (!stopped) timer = setTimeout(loop, options.pollIntervalMs)
  }

  const service: OcnChainService = {
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

    async start() {
      if (!stopped) return
      if (deployment === undefined) {
        if (init.deploymentFile === undefined) {
          throw new ChainServiceError('CHAIN_DEPLOYMENT_MISSING', 'no deployment given to the chain service')
        }
        deployment = await loadDeploymentFile(init.deploymentFile)
      }
      const d = deployment
      const chain = defineChain({
        id: d.chainId,
        name: `ocn-${d.chainId}`,
        nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
        rpcUrls: { default: { http: [init.rpcUrl] } },
      })
      client = createWalletClient({ account: init.account, chain, transport, pollingInterval: 250 }).extend(
        publicActions,
      ) as unknown as OcnChainClient
      let chainId: number
      try {
        chainId = await getChainId(client)
      } catch (cause) {
        throw new ChainServiceError('CHAIN_UNREACHABLE', `the RPC endpoint ${init.rpcUrl} does not answer`, {
          cause,
          details: 'start the chain (or `ocn devnet`), or fix chain.rpcUrl',
        })
      }
      if (chainId !== d.chainId) {
        throw new ChainServiceError('CHAIN_DEPLOYMENT_MISMATCH', 'the deployment belongs to another chain', {
          details: `deployment chain id ${d.chainId}, RPC endpoint chain id ${chainId}`,
        })
      }
      const saved = await components.state.getChainCursor()
      watcher = createEventWatcher({
        client,
        addresses: [d.addresses.jobMarket, d.addresses.stakeManager],
        fromBlock: d.deployBlock,
        confirmations: options.confirmations,
        pollIntervalMs: options.pollIntervalMs,
        // the whole cursor block was processed before it was saved
        ...(saved?.blockHash === undefined || saved.blockNumber < d.deployBlock
          ? {}
          : {
              cursor: {
                blockNumber: saved.blockNumber,
                blockHash: saved.blockHash as Hash,
                logIndex: Number.MAX_SAFE_INTEGER,
              },
            }),
        onEvents: (events) => deliver(events),
        onReorg: (info) => log.warn({ rewoundTo: info.rewoundTo }, 'chain reorganisation; replaying events'),
      })
      stopped = false
      log.info(
        { rpcUrl: init.rpcUrl, chainId, from: saved?.blockNumber ?? d.deployBlock },
        'chain service started',
      )
      void loop()
    },

    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await polling?.catch(() => {})
    },

    async chainId() {
      return getChainId(need(client))
    },
    async blockNumber() {
      return need(client).getBlockNumber({ cacheTime: 0 })
    },
    async chainTime() {
      const block = await getBlock(need(client), { blockTag: 'latest' })
      return block.timestamp
    },
    async blockHash(blockNumber) {
      try {
        const block = await getBlock(need(client), { blockNumber })
        return block.hash ?? undefined
      } catch {
        return undefined
      }
    },
    async balances(address: string): Promise<Balances> {
      const c = need(client)
      const d = need(deployment)
      const account = address as Address
      const [native, token, stake] = await Promise.all([
        getBalance(c, { address: account }),
        getTokenBalance(c, { token: d.addresses.token, account }),
        getStake(c, { stakeManager: d.addresses.stakeManager, account }),
      ])
      return { address, native, token, staked: stake.staked, locked: stake.locked }
    },
    onEvents(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    poll,
    serialize(send) {
      const run = sending.then(send, send)
      sending = run.catch(() => {})
      return run
    },
    async modelStatus(modelHash, readOptions) {
      return modelStatuses().status(modelHash, readOptions)
    },
  }
  return service
}
