/**
 * The devnet: a whole OCN network on this machine. Anvil with the protocol deployed, funded
 * and staked accounts, and one `ocn start` process per node (providers, one of them
 * cheating, staked verifiers that challenge and sit on DisputeCourt juries, a requester) talking
 * libp2p over TCP on 127.0.0.1. It can run a workload through the requester's local API
 * and report what happened, on-chain balances included.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Job } from '@ocn/client'
import {
  approveToken,
  type Deployment,
  type DevChain,
  deployProtocol,
  freePort,
  getJob,
  getMarketAccount,
  getStake,
  getTokenBalance,
  stake,
  startDevChain,
  transferToken,
} from '@ocn/contracts-client'
import type { JobState } from '@ocn/node'
import {
  apiUrlWithToken,
  ensureApiToken,
  initNodeKeys,
  isLoopbackHost,
  loadNodeKeys,
  type NodeKeyInfo,
  type NodeRole,
  readApiToken,
} from '@ocn/node'
import { type Address, createWalletClient, type Hex, http, parseEther } from 'viem'
import { getBalance, sendTransaction, waitForTransactionReceipt } from 'viem/actions'
import { createDevnetBoard, DEVNET_BOARD_ENV, DEVNET_BOARD_FILE } from './board.js'
import { readDevnetBooks } from './conservation.js'
import { DEVNET_MODEL_REVIEW_SECONDS } from './datanet-chain.js'
import { cheaterConvictedByJury, type DevnetDispute, readDisputes } from './disputes.js'
import { DevnetError } from './errors.js'
import { type CheatingFaultPlanOptions, DEVNET_FAULTS_ENV } from './faults.js'
import { type FollowedJob, readFollowingReoffers } from './jobs.js'
import { devnetNodeApi, submissionOf } from './node-client.js'
import { type DevnetOptions, defaultDevnetOptions } from './options.js'
import {
  type ConfigFragment,
  type DevnetPhase,
  type DevnetPhaseContext,
  type DevnetPhaseReport,
  type DevnetWallet,
  mergeConfig,
} from './phase.js'
import { devnetPhases } from './phases.js'
import type { DevnetNodePlan, DevnetNodeSite } from './placement.js'
import { faultyNodeBinPath, type NodeProcess, spawnNode } from './processes.js'
import { bookReplacedAwards, type ReplacedAward, readReplacedAwards } from './replaced-awards.js'
import { sleep } from './sleep.js'
import { createWorkload, type Workload, type WorkloadJob } from './workload.js'
import { type DevnetJobResults, readJobResults } from './workload-results.js'

export interface DevnetNode {
  name: string
  role: NodeRole
  roles: string[]
  cheater: boolean
  address: Address
  peerId: string
  dataDir: string
  api: string
  /** Multiaddrs with /p2p/<peerId>. */
  listen: string[]
}

export interface AccountBalance {
  native: bigint
  token: bigint
  staked: bigint
  locked: bigint
  /** prepaid OPEN in the JobMarket (deposits, credited payouts): the account's, held by the market */
  market: bigint
}

export interface DevnetJob {
  name: string
  id: string
  kind: 'inference' | 'training'
  verification: 'replay' | 'zk'
  provider: string | null
  providerName: string | null
  price: bigint | null
  status: JobState | 'submit-failed' | 'timeout'
  challenged: boolean
  /** Offer to result committed (delivered), from the requester's record. */
  latencyMs: number | null
  /** Offer to settlement (finalized or slashed). */
  settledMs: number | null
  /** Times the requester offered it again after a bidding round without a usable bid. */
  reoffers?: number
  /** the offers this job replaced (re-offers), oldest first */
  superseded?: string[]
  /**
   * Price still escrowed in the JobMarket for replaced offers when the balances were read: a
   * no-show's award is refunded only when it expires on chain, which can be after the summary,
   * and one that committed late is paid only when its window closes.
   */
  escrowHeld?: bigint
  /**
   * Replaced offers whose award was settled by paying its provider: a no-show that committed
   * after all (before its deadline) is paid like any job, besides the re-offer that replaced it.
   */
  latePaid?: { id: string; provider: Address; price: bigint }[]
  /** A generate or stateful sequence job (both are inference-kind offers). */
  mode?: 'generate' | 'sequence'
  /** generate and sequence jobs that finalized: the requester's checked results */
  results?: DevnetJobResults
  error?: string
}

export interface DevnetSummary {
  ok: boolean
  chainId: number
  rpcUrl: string
  contracts: Deployment['addresses']
  deployBlock: bigint
  dir: string
  nodes: Omit<DevnetNode, 'dataDir' | 'listen'>[]
  jobs: DevnetJob[]
  /** Every DisputeCourt dispute: challenger, leaf, jurors and votes, outcome, who gained and lost what. */
  disputes: DevnetDispute[]
  balances: { name: string; address: Address; before: AccountBalance; after: AccountBalance }[]
  /** What each phase demonstrated (see phase.ts), by phase name. */
  phases: Record<string, Omit<DevnetPhaseReport, 'checks'>>
  /**
   * honestJobsSettled, cheaterCaught, honestNeverSlashed, tokensConserved, then each phase's
   * own checks prefixed with its name (`zk.jobSettled`).
   */
  checks: Record<string, boolean>
  durationMs: number
}

export type DevnetEvent =
  | { type: 'step'; message: string }
  | { type: 'node'; node: DevnetNode }
  | { type: 'job'; job: DevnetJob; state: string; at: number }

export interface DevnetHooks {
  onEvent?: (event: DevnetEvent) => void
}

export interface Devnet {
  dir: string
  chain: DevChain
  deployment: Deployment
  nodes: DevnetNode[]
  requester: DevnetNode
  /** Runs the workload and reports; see DevnetSummary. */
  runWorkload(options?: { signal?: AbortSignal }): Promise<DevnetSummary>
  /** Stops every node and anvil; removes a temporary dir. Safe to call twice. */
  stop(): Promise<void>
}

/** The phases selected by the options, in their fixed order. */
function selectedPhases(options: DevnetOptions): DevnetPhase[] {
  const wanted = options.phases
  if (wanted === undefined) return [...devnetPhases]
  const known = new Set(devnetPhases.map((p) => p.name))
  for (const name of wanted)
    if (!known.has(name))
      throw new DevnetError('DEVNET_OPTIONS_INVALID', `unknown devnet phase "${name}"`, {
        details: `known: ${[...known].join(', ') || '(none)'}`,
      })
  return devnetPhases.filter((p) => wanted.includes(p.name))
}

type NodePlan = DevnetNodePlan

const TERMINAL: ReadonlySet<string> = new Set(['finalized', 'slashed', 'expired', 'failed'])
const SETTLEMENT: ReadonlySet<string> = new Set(['finalized', 'slashed'])
/** A result is committed (or the job ended): the provider's slot is free again. */
const COMMITTED: ReadonlySet<string> = new Set([...TERMINAL, 'committed', 'challenged'])

function plans(options: DevnetOptions): NodePlan[] {
  if (options.nodes !== undefined) return [...options.nodes]
  // Every verifier challenges what it finds and sits in the juror pool; the first keeps the
  // plain name 'verifier'.
  const list: NodePlan[] = Array.from({ length: Math.max(1, options.verifiers) }, (_v, i) => ({
    name: i === 0 ? 'verifier' : `verifier-${i + 1}`,
    roles: ['verifier'],
    extraRoles: [],
    cheater: false,
    stake: true,
  }))
  const honest = Math.max(1, options.cheater ? options.providers - 1 : options.providers)
  for (let i = 0; i < honest; i++) {
    list.push({
      name: `provider-${i + 1}`,
      roles: ['provider'],
      extraRoles: [],
      cheater: false,
      stake: true,
      // Distinct floors so the requester's choice is visible in the summary.
      priceFloor: parseEther('0.0001') + BigInt(i) * parseEther('0.00002'),
    })
  }
  // The cheater bids lowest so that it wins work and its fraud gets exercised.
  if (options.cheater)
    list.push({
      name: `provider-${honest + 1}`,
      roles: ['provider'],
      extraRoles: [],
      cheater: true,
      stake: true,
      priceFloor: parseEther('0.00005'),
    })
  list.push({ name: 'requester', roles: ['requester'], extraRoles: [], cheater: false, stake: false })
  return list
}

function nodeConfig(
  plan: NodePlan,
  options: DevnetOptions,
  network: { listen: string; announce: string[]; bootstrap: string[]; apiHost: string },
  rpcUrl: string,
  deploymentFile: string,
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    roles: options.withRoles ? [...plan.roles, ...plan.extraRoles] : [],
    logLevel: options.nodeLogLevel,
    logFormat: 'json',
    network: {
      listen: [network.listen],
      announce: network.announce,
      bootstrap: network.bootstrap,
      mdns: false,
    },
    chain: { rpcUrl, deploymentFile, confirmations: 1 },
    api: { enabled: true, host: network.apiHost, port: 0 },
  }
  if (plan.roles.includes('provider')) {
    const provider: Record<string, unknown> = {
      maxConcurrentJobs: plan.cheater ? 1 : 2,
      // the check of a job's files before bidding must leave time to bid in the short window
      prebidTimeoutMs: Math.max(1, Math.floor(options.biddingWindowMs / 2)),
      ...(plan.priceFloor === undefined ? {} : { priceFloorPerSample: plan.priceFloor.toString() }),
    }
    config.provider = provider
  }
  if (plan.roles.includes('requester')) {
    // the short window misses the first check of a new model's files (it goes on in the
    // background for the re-offer): two more rounds than the default, the pause doubling
    // from 1 s, ride out a loaded machine (1 + 2 + 4 + 8 s) without failing the workload
    config.requester = {
      biddingWindowMs: options.biddingWindowMs,
      noBidReoffers: 4,
      noBidReofferDelayMs: 1_000,
    }
  }
  return config
}

/**
 * Starts a node's `ocn start`. The cheater runs it through the devnet-only faulty-node entry,
 * which composes in its fault plan; its config is an honest provider's.
 */
function spawnPlannedNode(
  plan: NodePlan,
  dataDir: string,
  options: DevnetOptions,
  wrapper: readonly string[] | undefined,
  signal: AbortSignal | undefined,
): Promise<NodeProcess> {
  const faults: CheatingFaultPlanOptions = plan.faults ?? { fraction: options.cheatFraction }
  return spawnNode({
    name: plan.name,
    dataDir,
    args: [],
    ...(wrapper === undefined ? {} : { wrapper }),
    ...(plan.cheater ? { entry: faultyNodeBinPath() } : {}),
    env: {
      [DEVNET_BOARD_ENV]: join(dirname(dataDir), DEVNET_BOARD_FILE),
      ...(plan.cheater ? { [DEVNET_FAULTS_ENV]: JSON.stringify(faults) } : {}),
    },
    timeoutMs: options.nodeStartTimeoutMs,
    ...(signal === undefined ? {} : { signal }),
  })
}

/** What startDevnet has started so far: exactly what its stop undoes. */
interface Started {
  dir: string
  /** The dir stays: the caller chose it, or asked to keep a temporary one. */
  keep: boolean
  chain?: DevChain
  ticker?: NodeJS.Timeout
  processes: NodeProcess[]
}

/** What each step of startDevnet works with. */
interface StartContext {
  options: DevnetOptions
  dir: string
  deploymentFile: string
  emit: (event: DevnetEvent) => void
  step: (message: string) => void
  signal?: AbortSignal
  /** Each step records here what it started, before anything else can fail. */
  started: Started
}

/** A planned node with its data dir and its freshly made keys. */
interface KeyedNode {
  plan: NodePlan
  dataDir: string
  info: NodeKeyInfo
}

/** The deployer's wallet: anvil's first account. */
function adminWallet(chain: DevChain) {
  return createWalletClient({
    account: chain.accounts[0]!,
    chain: chain.chain,
    transport: http(chain.rpcUrl),
  })
}

type AdminWallet = ReturnType<typeof adminWallet>

/** Stops what was started (nodes, ticker, anvil, a temporary dir) once, however often it is called. */
function stopper(started: Started): () => Promise<void> {
  let stopped: Promise<void> | undefined
  return () => {
    stopped ??= (async () => {
      if (started.ticker !== undefined) clearInterval(started.ticker)
      await Promise.all(started.processes.map((p) => p.stop()))
      await started.chain?.stop()
      if (!started.keep) await rm(started.dir, { recursive: true, force: true })
    })()
    return stopped
  }
}

/** Starts the devnet; on any failure everything already started is stopped again. */
export async function startDevnet(
  init: Partial<DevnetOptions> = {},
  hooks: DevnetHooks = {},
): Promise<Devnet> {
  const options: DevnetOptions = { ...defaultDevnetOptions, ...init }
  const phases = selectedPhases(options)
  const signal = options.signal
  const temporary = options.dir === undefined
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'ocn-devnet-')))
  await mkdir(dir, { recursive: true })
  // every node serves the board at GET /devnet (the console's network page)
  const board = createDevnetBoard(dir)
  const emit = (event: DevnetEvent) => {
    board.onEvent(event)
    hooks.onEvent?.(event)
  }
  const started: Started = { dir, keep: options.keep === true || !temporary, processes: [] }
  const stop = stopper(started)
  const start: StartContext = {
    options,
    dir,
    deploymentFile: join(dir, 'deployment.json'),
    emit,
    step: (message) => emit({ type: 'step', message }),
    started,
    ...(signal === undefined ? {} : { signal }),
  }

  try {
    const { chain, admin } = await startChain(start)
    const keyed = await createNodeKeys(start)
    const deployment = await deployAndFund(start, chain, admin, keyed)
    const context = phaseContext(start, chain, deployment, admin, keyed)
    const addresses = await writeNodeConfigs(start, context, phases, keyed)
    const nodes = await startNodes(start, keyed, addresses)
    const requester = nodes.find((n) => n.role === 'requester')!
    const devnet: Devnet = {
      dir,
      chain,
      deployment,
      nodes,
      requester,
      runWorkload: (run = {}) => runWorkload(devnet, context, phases, emit, run.signal ?? signal),
      stop,
    }
    return devnet
  } catch (error) {
    await stop()
    throw startFailure(error)
  }
}

/** A DevnetError as it is; anything else (anvil, a transaction) wrapped with its short message. */
function startFailure(error: unknown): DevnetError {
  if (error instanceof DevnetError) return error
  return new DevnetError('DEVNET_CHAIN_FAILED', 'the devnet could not be started', {
    cause: error,
    details:
      error instanceof Error
        ? ((error as { shortMessage?: string }).shortMessage ?? error.message)
        : String(error),
  })
}

/** Anvil, and the ticker that mines an empty block every blockTimeSeconds. */
async function startChain(start: StartContext): Promise<{ chain: DevChain; admin: AdminWallet }> {
  start.step('starting anvil')
  const chain = await startDevChain({
    ...(start.options.placement === undefined ? {} : { host: start.options.placement.chainHost }),
    ...(start.signal === undefined ? {} : { signal: start.signal }),
  })
  start.started.chain = chain
  const admin = adminWallet(chain)
  // Anvil mines each transaction at once; an extra empty block every interval gives
  // verifiers fresh block hashes (randomness drawn after a commitment) while idle.
  if (start.options.blockTimeSeconds > 0) {
    start.started.ticker = setInterval(() => {
      admin.request({ method: 'evm_mine' as 'eth_chainId' }).catch(() => undefined)
    }, start.options.blockTimeSeconds * 1000)
    start.started.ticker.unref()
  }
  return { chain, admin }
}

/** A data dir and fresh keys for every planned node. */
async function createNodeKeys(start: StartContext): Promise<KeyedNode[]> {
  const nodePlans = plans(start.options)
  start.step(`creating keys for ${nodePlans.length} nodes`)
  return Promise.all(
    nodePlans.map(async (plan) => {
      const dataDir = join(start.dir, plan.name)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      return { plan, dataDir, info: await initNodeKeys({ dataDir, force: true }) }
    }),
  )
}

/**
 * Deploys the protocol (with the devnet's short court periods), gives every node ETH and OPEN,
 * and stakes the nodes that must.
 */
async function deployAndFund(
  start: StartContext,
  chain: DevChain,
  admin: AdminWallet,
  keyed: readonly KeyedNode[],
): Promise<Deployment> {
  const { options } = start
  start.step('deploying the protocol')
  const deployment = await deployProtocol(admin, {
    court: options.court,
    params: {
      challengeWindow: options.challengeWindowSeconds,
      unbondingDelay: BigInt(Math.max(options.challengeWindowSeconds, 60)),
    },
    // a review period the attribution phase waits out (the default is days)
    modelRelease: { minReviewPeriod: DEVNET_MODEL_REVIEW_SECONDS },
    outFile: start.deploymentFile,
  })

  start.step('funding and staking accounts')
  for (const { info } of keyed) {
    const hash = await sendTransaction(admin, {
      to: info.address,
      value: parseEther('100'),
    } as Parameters<typeof sendTransaction>[1])
    await waitForTransactionReceipt(admin, { hash })
    await transferToken(admin, {
      token: deployment.addresses.token,
      to: info.address,
      amount: options.fundOpen,
    })
  }
  await Promise.all(
    keyed
      .filter((n) => n.plan.stake)
      .map(async ({ plan, dataDir }) => {
        const keys = await loadNodeKeys({ dataDir })
        const client = createWalletClient({
          account: keys.account,
          chain: chain.chain,
          transport: http(chain.rpcUrl),
        })
        const { token, stakeManager } = deployment.addresses
        const amount = plan.stakeAmount ?? options.stakeOpen
        await approveToken(client, { token, spender: stakeManager, amount })
        await stake(client, { stakeManager, amount })
      }),
  )
  return deployment
}

/** What the phases see of the devnet while it starts and after the workload. */
function phaseContext(
  start: StartContext,
  chain: DevChain,
  deployment: Deployment,
  admin: AdminWallet,
  keyed: readonly KeyedNode[],
): DevnetPhaseContext {
  return {
    dir: start.dir,
    chain,
    deployment,
    admin: admin as DevnetWallet,
    members: keyed.map(({ plan, dataDir, info }) => ({
      name: plan.name,
      roles: plan.roles,
      cheater: plan.cheater,
      address: info.address,
      dataDir,
    })),
    options: start.options,
    step: start.step,
    ...(start.signal === undefined ? {} : { signal: start.signal }),
  }
}

/**
 * Lets each phase prepare (and add to the nodes' configs), then writes every node's
 * config.json. Returns each node's multiaddr with /p2p/<peerId>, in plan order.
 */
async function writeNodeConfigs(
  start: StartContext,
  context: DevnetPhaseContext,
  phases: readonly DevnetPhase[],
  keyed: readonly KeyedNode[],
): Promise<string[]> {
  const fragments = new Map<string, ConfigFragment[]>()
  for (const phase of phases) {
    if (phase.prepare === undefined) continue
    const prepared = await phase.prepare(context)
    for (const [name, fragment] of Object.entries(prepared?.config ?? {}))
      fragments.set(name, [...(fragments.get(name) ?? []), fragment])
  }

  const sites = await nodeSites(start.options, keyed.length)
  const addresses = keyed.map(({ info }, i) => `${sites[i]!.dial}/p2p/${info.peerId}`)
  const seeds = start.options.placement?.seeds
  for (const [index, { plan, dataDir }] of keyed.entries()) {
    const site = sites[index]!
    const network = {
      listen: site.listen,
      announce: site.dial === site.listen ? [] : [site.dial],
      apiHost: site.apiHost,
      bootstrap: addresses.filter((_a, i) => i !== index && (seeds === undefined || seeds.includes(i))),
    }
    const config = (fragments.get(plan.name) ?? []).reduce(
      mergeConfig,
      nodeConfig(plan, start.options, network, context.chain.rpcUrl, start.deploymentFile),
    )
    await writeFile(join(dataDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
    // a node serving its API off loopback (the testnet) must have a token, as `ocn init` makes
    if (!isLoopbackHost(site.apiHost)) await ensureApiToken(dataDir)
  }
  return addresses
}

/**
 * Where each node listens and is dialled. On loopback (no placement) ports and peer ids are
 * known before any node starts, so every node bootstraps from all the others: of each pair,
 * the one that starts second dials the first, and a single failed dial cannot leave a node
 * alone. A placement (the testnet) puts each node on its own host, bootstrapping from seeds.
 */
async function nodeSites(options: DevnetOptions, count: number): Promise<DevnetNodeSite[]> {
  const { placement } = options
  if (placement !== undefined) return Array.from({ length: count }, (_v, i) => placement.site(i))
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()))
  return ports.map((port) => {
    const address = `/ip4/127.0.0.1/tcp/${port}`
    return { listen: address, dial: address, apiHost: '127.0.0.1' }
  })
}

/** Starts every node (providers last) and waits until they run and found each other. */
async function startNodes(
  start: StartContext,
  keyed: readonly KeyedNode[],
  addresses: readonly string[],
): Promise<DevnetNode[]> {
  start.step('starting the nodes')
  // Providers start last: they announce their capabilities (address -> peer id) as they
  // start, and the verifier and the requester must already be there to hear it.
  const indexed = keyed.map((entry, index) => ({ entry, index, address: addresses[index]! }))
  const isProvider = (e: (typeof indexed)[number]) => e.entry.plan.roles.includes('provider')
  const launched = await Promise.all(
    indexed.filter((e) => !isProvider(e)).map((e) => launchNode(start, e.entry, e.index, e.address)),
  )
  launched.push(
    ...(await Promise.all(
      indexed.filter(isProvider).map((e) => launchNode(start, e.entry, e.index, e.address)),
    )),
  )
  // Reported in plan order (verifier, providers, requester).
  const nodes = keyed.map((entry) => launched.find((n) => n.name === entry.plan.name)!)

  start.step('waiting for the nodes to find each other')
  await waitForMesh(nodes, start.options, start.signal)
  return nodes
}

/** Spawns one node (tracked for stop at once) and reports it when it runs. */
async function launchNode(
  start: StartContext,
  entry: KeyedNode,
  index: number,
  listenAddress: string,
): Promise<DevnetNode> {
  const wrapper = start.options.placement?.site(index).wrapper
  const proc = await spawnPlannedNode(entry.plan, entry.dataDir, start.options, wrapper, start.signal)
  start.started.processes.push(proc)
  if (proc.ready.api === null) throw new DevnetError('DEVNET_NODE_FAILED', `${entry.plan.name} has no API`)
  const node: DevnetNode = {
    name: entry.plan.name,
    role: entry.plan.roles[0]!,
    roles: [...entry.plan.roles, ...entry.plan.extraRoles],
    cheater: entry.plan.cheater,
    address: entry.info.address,
    peerId: proc.ready.peerId,
    dataDir: entry.dataDir,
    api: await devnetApiUrl(proc.ready.api, entry.dataDir),
    listen: [listenAddress],
  }
  start.emit({ type: 'node', node })
  return node
}

/**
 * The URL the devnet reaches a node's API by: with the node's token (if `ocn init` or the
 * testnet made one) as its user part, so every API call of the devnet sends it.
 */
export async function devnetApiUrl(api: string, dataDir: string): Promise<string> {
  return apiUrlWithToken(api, await readApiToken(dataDir))
}

/** A node's API URL as shown to people and in summaries: without the token devnetApiUrl adds. */
export function displayApiUrl(api: string): string {
  const url = new URL(api)
  if (url.username === '') return api
  url.username = ''
  url.password = ''
  return url.toString()
}

/** Waits until every node's API answers and, where it runs libp2p, it is connected. */
async function waitForMesh(nodes: DevnetNode[], options: DevnetOptions, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + options.nodeStartTimeoutMs
  const meshDeadline = Date.now() + options.nodeStartTimeoutMs / 2
  for (;;) {
    const statuses = await Promise.all(
      nodes.map((n) =>
        devnetNodeApi(n.api)
          .client.status({ timeoutMs: 3_000 })
          .catch(() => undefined),
      ),
    )
    // A full mesh is expected (every node dials every other; with seeds, every seed); after
    // half the time any connected graph will do, gossip relays the rest.
    const full = Math.min(nodes.length - 1, options.placement?.seeds.length ?? nodes.length)
    const wanted = Date.now() < meshDeadline ? full : 1
    const ready = statuses.every((status) => {
      if (status === undefined) return false
      if (Object.values(status.services).some((state) => state === 'stopped')) return false
      if (status.network === undefined) return true
      return status.network.peers >= wanted
    })
    if (ready) break
    if (Date.now() > deadline) {
      throw new DevnetError('DEVNET_NODE_TIMEOUT', 'the nodes did not connect to each other in time', {
        details: statuses.map((s, i) => `${nodes[i]!.name}: ${s?.network?.peers ?? '?'} peers`).join(', '),
      })
    }
    await sleep(250, signal)
  }
  // Gossipsub grafts its mesh on heartbeats (1 s): give it two before offers flow.
  await sleep(2_000, signal)
}

/**
 * The balances after the workload and the replaced awards they go with (replaced-awards.ts). A
 * late no-show can commit or be finalized by a keeper at any moment, so the awards are read on
 * both sides of the balances until they agree (the two reads then describe the same state).
 */
async function readSettledState(
  devnet: Devnet,
  jobs: readonly DevnetJob[],
  accountList: readonly { address: Address }[],
): Promise<AccountBalance[]> {
  const client = adminWallet(devnet.chain)
  const { jobMarket } = devnet.deployment.addresses
  const read = (jobId: string) => getJob(client, { jobMarket, jobId: jobId as Hex })
  const describe = (awards: ReplacedAward<DevnetJob>[]) => awards.map((a) => `${a.id}:${a.status}`).join(',')
  let awards = await readReplacedAwards(jobs, read)
  for (let attempt = 0; ; attempt++) {
    const balances = await Promise.all(accountList.map((a) => readBalance(devnet, a.address)))
    const again = await readReplacedAwards(jobs, read)
    if (describe(again) === describe(awards) || attempt === 4) {
      bookReplacedAwards(jobs, again)
      return balances
    }
    awards = again
  }
}

async function readBalance(devnet: Devnet, address: Address): Promise<AccountBalance> {
  const client = adminWallet(devnet.chain)
  const { token, stakeManager, jobMarket } = devnet.deployment.addresses
  const [native, held, stakeInfo, account] = await Promise.all([
    getBalance(client, { address }),
    getTokenBalance(client, { token, account: address }),
    getStake(client, { stakeManager, account: address }),
    getMarketAccount(client, { jobMarket, account: address }),
  ])
  return {
    native,
    token: held,
    staked: stakeInfo.staked + stakeInfo.unbonding,
    locked: stakeInfo.locked,
    market: account.balance,
  }
}

async function accounts(devnet: Devnet): Promise<{ name: string; address: Address }[]> {
  return [
    ...devnet.nodes.map((n) => ({ name: n.name, address: n.address })),
    { name: 'deployer (treasury)', address: devnet.deployment.deployer },
  ]
}

function historyAt(record: Job, states: ReadonlySet<string>): number | undefined {
  return record.history.find((entry) => states.has(entry.state))?.at
}

/** What following the submitted jobs on the requester's API needs. */
interface JobFollowing {
  api: string
  /** The nodes by lowercased address, to name a job's provider. */
  byAddress: ReadonlyMap<string, DevnetNode>
  /** The states already reported, by job id. */
  seen: Map<string, Set<string>>
  /** A job not settled by then is reported as 'timeout'. */
  deadline: number
  emit: (event: DevnetEvent) => void
  signal?: AbortSignal
}

/** What the phases' own demonstrations after the workload produced. */
interface PhaseOutcome {
  reports: DevnetSummary['phases']
  /** Prefixed with the phase's name (`zk.jobSettled`). */
  checks: Record<string, boolean>
  /** Contracts of the phases that may hold OPEN, for tokensConserved. */
  tokenHolders: Address[]
  /** Jobs the phases offered themselves, paid like workload jobs (DevnetAfterContext.offered). */
  offered: { spec: WorkloadJob; id: string }[]
}

async function runWorkload(
  devnet: Devnet,
  context: DevnetPhaseContext,
  phases: readonly DevnetPhase[],
  emit: (event: DevnetEvent) => void,
  signal?: AbortSignal,
): Promise<DevnetSummary> {
  const started = Date.now()
  emit({ type: 'step', message: 'generating the workload (model, inputs, training job)' })
  const workload = await createWorkload(join(devnet.dir, 'workload'), context.options)
  for (const phase of phases)
    if (phase.jobs !== undefined) workload.jobs.push(...(await phase.jobs(context, workload)))
  const accountList = await accounts(devnet)
  const before = await Promise.all(accountList.map((a) => readBalance(devnet, a.address)))

  const following: JobFollowing = {
    api: devnet.requester.api,
    byAddress: new Map(devnet.nodes.map((n) => [n.address.toLowerCase(), n])),
    seen: new Map(),
    deadline: Date.now() + context.options.workloadTimeoutMs,
    emit,
    ...(signal === undefined ? {} : { signal }),
  }
  const jobs = await submitWorkload(following, workload.jobs)
  await readModeResults(following, jobs)
  const outcome = await runPhasesAfterWorkload(devnet, context, phases, workload, jobs, emit)
  // e.g. the attribution phase's training job run again after the cheater's was slashed: the
  // requester paid for it, so the summary reports it and the money checks count it
  jobs.push(...(await followPhaseJobs(following, outcome.offered)))

  // Settlement transfers happen in the transactions the requester just saw; read after them.
  const after = await readSettledState(devnet, jobs, accountList)
  const balances = accountList.map((a, i) => ({ ...a, before: before[i]!, after: after[i]! }))
  const holders = [...accountList.map((a) => a.address), ...outcome.tokenHolders]
  const disputes = await readDisputes(
    adminWallet(devnet.chain),
    devnet.deployment,
    new Map(accountList.map((a) => [a.address.toLowerCase(), a.name])),
    new Map(jobs.map((j) => [j.id.toLowerCase(), j.name])),
  )
  const checks = await workloadChecks(devnet, jobs, balances, holders, {
    cheaterConvictedByJury: !devnet.nodes.some((n) => n.cheater) || convictedByJury(devnet, jobs, disputes),
    ...outcome.checks,
  })
  return {
    ok: Object.values(checks).every(Boolean),
    chainId: devnet.deployment.chainId,
    rpcUrl: devnet.chain.rpcUrl,
    contracts: devnet.deployment.addresses,
    deployBlock: devnet.deployment.deployBlock,
    dir: devnet.dir,
    // the summary is printed and stored: it names each API without its token
    nodes: devnet.nodes.map(({ dataDir: _d, listen: _l, ...node }) => ({
      ...node,
      api: displayApiUrl(node.api),
    })),
    jobs,
    disputes,
    balances,
    phases: outcome.reports,
    checks,
    durationMs: Date.now() - started,
  }
}

/**
 * Submits the workload's jobs and follows them until each settled or the deadline passed;
 * returns them in submission order.
 */
async function submitWorkload(following: JobFollowing, specs: readonly WorkloadJob[]): Promise<DevnetJob[]> {
  const { emit, signal } = following
  const jobs: DevnetJob[] = []
  // The cheater bids lowest, so it wins the first job alone and meets the verifier; each
  // `opening` job goes out once the one before it was committed (the cheater's slot is free
  // again and no conviction is on its record yet), so the cheater wins those too. The rest go
  // out once these are settled, when the requester knows the cheater's record.
  const [first, ...others] = specs
  const openings = first === undefined ? [] : [first, ...others.filter((s) => s.opening === true)]
  const rest = others.filter((s) => s.opening !== true)
  const opened: DevnetJob[] = []
  const open = async (spec: WorkloadJob) => {
    emit({ type: 'step', message: `submitting ${spec.name}` })
    const job = await submitJob(following, spec)
    opened.push(job)
    jobs.push(job)
    await followJobs(following, [job], COMMITTED)
    return job
  }
  for (const spec of openings) {
    const job = await open(spec)
    // Right after committing, the cheater is serving that result to the requester and the
    // verifiers, and its check of a new model's files can run past the short bidding window:
    // an honest provider takes the job. The check went on, so the same files offered again
    // are bid on at once, and the cheapest bid, the cheater's, wins them.
    if (wonByHonestProvider(following, job)) await open({ ...spec, name: `${spec.name}-again` })
  }
  await followJobs(following, opened)
  if (rest.length > 0) {
    emit({ type: 'step', message: `submitting ${rest.map((j) => j.name).join(', ')}` })
    const batch: DevnetJob[] = []
    for (const spec of rest) {
      const job = await submitJob(following, spec)
      batch.push(job)
      jobs.push(job)
      // Staggered so each offer's bidding sees the slots the previous awards took.
      await sleep(300, signal)
    }
    await followJobs(following, batch)
  }
  return jobs
}

/** Whether a devnet with a cheater saw an honest provider win `job` (its record says who). */
function wonByHonestProvider(following: JobFollowing, job: DevnetJob): boolean {
  const nodes = [...following.byAddress.values()]
  if (!nodes.some((n) => n.cheater) || job.provider === null) return false
  return following.byAddress.get(job.provider.toLowerCase())?.cheater === false
}

/** Offers one job through the requester's API; a refused submission is reported, not thrown. */
async function submitJob(following: JobFollowing, spec: WorkloadJob): Promise<DevnetJob> {
  const { api, emit, signal } = following
  const job = newDevnetJob(spec)
  try {
    const { jobId } = await devnetNodeApi(api).call('write', (client) =>
      client.submit(submissionOf(spec), signal === undefined ? {} : { signal }),
    )
    job.id = jobId
    job.status = 'offered'
  } catch (error) {
    job.error = error instanceof Error ? error.message : String(error)
    emit({ type: 'job', job, state: 'submit-failed', at: Date.now() })
  }
  return job
}

/** How long a job a phase offered is followed to its end after the phase (it waited for it). */
const PHASE_JOB_FOLLOW_MS = 60_000

/** The jobs the phases offered themselves, read from the requester like the workload's. */
async function followPhaseJobs(
  following: JobFollowing,
  offered: readonly { spec: WorkloadJob; id: string }[],
): Promise<DevnetJob[]> {
  const jobs = offered.map(({ spec, id }) => ({ ...newDevnetJob(spec), id, status: 'offered' as const }))
  // the workload's deadline may have passed while the phases ran
  await followJobs({ ...following, deadline: Date.now() + PHASE_JOB_FOLLOW_MS }, jobs)
  return jobs
}

/** A summary entry for a job of `spec`, not submitted yet. */
function newDevnetJob(spec: WorkloadJob): DevnetJob {
  return {
    name: spec.name,
    id: '',
    kind: spec.kind,
    verification: spec.verification ?? 'replay',
    provider: null,
    providerName: null,
    price: null,
    status: 'submit-failed',
    challenged: false,
    latencyMs: null,
    settledMs: null,
    ...(spec.generate !== undefined
      ? { mode: 'generate' }
      : spec.state !== undefined
        ? { mode: 'sequence' }
        : {}),
  }
}

/**
 * Polls the batch's submitted jobs until each reached one of `until` (a terminal state by
 * default) or the deadline passed.
 */
async function followJobs(
  following: JobFollowing,
  batch: readonly DevnetJob[],
  until: ReadonlySet<string> = TERMINAL,
): Promise<void> {
  for (;;) {
    const pending = batch.filter((j) => j.id !== '' && !until.has(j.status))
    if (pending.length === 0) return
    if (Date.now() > following.deadline) {
      for (const job of pending) job.status = 'timeout'
      return
    }
    await Promise.all(pending.map((job) => refreshJob(following, job)))
    await sleep(250, following.signal)
  }
}

/**
 * Reads a job's record (following automatic re-offers) into the DevnetJob and reports each
 * state it reached since the last read. A failed read is retried on the next poll.
 */
async function refreshJob(following: JobFollowing, job: DevnetJob): Promise<void> {
  const { emit, seen } = following
  let followed: FollowedJob
  try {
    followed = await readFollowingReoffers(following.api, job.id)
  } catch {
    return
  }
  const record = followed.record
  if (followed.id !== job.id) {
    emit({ type: 'job', job, state: `re-offered as ${followed.id}`, at: Date.now() })
    job.superseded = [...(job.superseded ?? []), ...followed.superseded]
    job.id = followed.id
    job.reoffers = followed.reoffers + (job.reoffers ?? 0)
  }
  const states = seen.get(job.id) ?? new Set<string>()
  seen.set(job.id, states)
  if (record.provider !== undefined) {
    job.provider = record.provider
    job.providerName = following.byAddress.get(record.provider.toLowerCase())?.name ?? null
  }
  if (record.price !== undefined) job.price = BigInt(record.price)
  job.verification = record.verification
  job.challenged = record.history.some((h) => h.state === 'challenged' || h.state === 'slashed')
  const created = record.createdAt
  const committedAt = historyAt(record, new Set(['committed']))
  const settledAt = historyAt(record, SETTLEMENT)
  if (committedAt !== undefined) job.latencyMs = committedAt - created
  if (settledAt !== undefined) job.settledMs = settledAt - created
  for (const entry of record.history) {
    if (states.has(entry.state)) continue
    states.add(entry.state)
    job.status = entry.state
    emit({ type: 'job', job, state: entry.state, at: entry.at })
  }
  // Failed without a bid but about to be offered again: not settled yet.
  job.status = followed.awaitingReoffer ? 'bidding' : record.state
}

/** The requester's checked results of each finalized generate and sequence job. */
async function readModeResults(following: JobFollowing, jobs: readonly DevnetJob[]): Promise<void> {
  for (const job of jobs) {
    if (job.mode === undefined || job.status !== 'finalized') continue
    const results = await readJobResults(following.api, job.id, following.signal)
    if (results !== undefined) job.results = results
  }
}

/** Each phase's own demonstration; a phase that throws fails its check, not the run. */
async function runPhasesAfterWorkload(
  devnet: Devnet,
  context: DevnetPhaseContext,
  phases: readonly DevnetPhase[],
  workload: Workload,
  jobs: readonly DevnetJob[],
  emit: (event: DevnetEvent) => void,
): Promise<PhaseOutcome> {
  const outcome: PhaseOutcome = { reports: {}, checks: {}, tokenHolders: [], offered: [] }
  const offered = (spec: WorkloadJob, id: string) => void outcome.offered.push({ spec, id })
  const running = devnet.nodes.map(({ name, roles, cheater, address, dataDir, api, peerId, listen }) => ({
    name,
    roles: roles as NodeRole[],
    cheater,
    address,
    dataDir,
    api,
    peerId,
    listen,
  }))
  for (const phase of phases) {
    if (phase.afterWorkload === undefined) continue
    emit({ type: 'step', message: `phase ${phase.name}` })
    try {
      const { checks, ...report } = await phase.afterWorkload({
        ...context,
        nodes: running,
        workload,
        jobs,
        offered,
      })
      outcome.reports[phase.name] = report
      for (const [name, passed] of Object.entries(checks)) outcome.checks[`${phase.name}.${name}`] = passed
      outcome.tokenHolders.push(...(report.tokenHolders ?? []))
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      emit({ type: 'step', message: `phase ${phase.name} failed: ${message}` })
      outcome.reports[phase.name] = { report: { error: message } }
      outcome.checks[`${phase.name}.completed`] = false
    }
  }
  return outcome
}

/** Some job of the cheating provider ended in a jury's guilty ruling that slashed it. */
function convictedByJury(
  devnet: Devnet,
  jobs: readonly DevnetJob[],
  disputes: readonly DevnetDispute[],
): boolean {
  const cheaters = new Set(devnet.nodes.filter((n) => n.cheater).map((n) => n.address.toLowerCase()))
  const providerOf = new Map(
    jobs.filter((j) => j.provider !== null).map((j) => [j.id.toLowerCase(), j.provider!]),
  )
  return cheaterConvictedByJury(disputes, cheaters, providerOf)
}

/** The summary's checks: the network's own four, then the phases' (see DevnetSummary.checks). */
async function workloadChecks(
  devnet: Devnet,
  jobs: readonly DevnetJob[],
  balances: DevnetSummary['balances'],
  holders: Address[],
  phaseChecks: Record<string, boolean>,
): Promise<Record<string, boolean>> {
  const cheaters = new Set(devnet.nodes.filter((n) => n.cheater).map((n) => n.address.toLowerCase()))
  const isCheater = (job: DevnetJob) => job.provider !== null && cheaters.has(job.provider.toLowerCase())
  const honestJobs = jobs.filter((j) => !isCheater(j))
  const cheaterJobs = jobs.filter(isCheater)
  const cheaterBalances = balances.filter((b) => cheaters.has(b.address.toLowerCase()))
  return {
    honestJobsSettled: honestJobs.length > 0 && honestJobs.every((j) => j.status === 'finalized'),
    cheaterCaught:
      cheaterJobs.some((j) => j.status === 'slashed') &&
      cheaterBalances.every((b) => b.after.staked < b.before.staked),
    honestNeverSlashed: honestJobs.every((j) => j.status !== 'slashed'),
    tokensConserved: await tokensConserved(devnet, holders),
    ...phaseChecks,
  }
}

/** Every OPEN is held by an account here or a contract (conservation.ts), the phases' holders included. */
async function tokensConserved(devnet: Devnet, holders: Address[]): Promise<boolean> {
  const books = await readDevnetBooks(devnet, { holders })
  return books.held === books.supply
}
