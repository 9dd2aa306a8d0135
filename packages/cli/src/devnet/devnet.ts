/**
 * The devnet: a whole OCN network on this machine. Anvil with the protocol deployed, funded
 * and staked accounts, and one `ocn start` process per node (providers, one of them
 * cheating, a verifier that also holds the interim arbiter role, a requester) talking
 * libp2p over TCP on 127.0.0.1. It can run a workload through the requester's local API
 * and report what happened, on-chain balances included.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  approveToken,
  type Deployment,
  type DevChain,
  deployProtocol,
  freePort,
  getStake,
  getTokenBalance,
  openTokenAbi,
  stake,
  startDevChain,
  transferToken,
} from '@ocn/contracts-client'
import type { JobRecord, JobState } from '@ocn/node'
import {
  type ApiJson,
  apiGet,
  apiPost,
  apiRoutes,
  initNodeKeys,
  loadNodeKeys,
  type NodeRole,
  nodeRoles,
} from '@ocn/node'
import { type Address, createWalletClient, http, parseEther } from 'viem'
import { getBalance, readContract, sendTransaction, waitForTransactionReceipt } from 'viem/actions'
import { DevnetError } from './errors.js'
import { type CheatingFaultPlanOptions, DEVNET_FAULTS_ENV } from './faults.js'
import { type FollowedJob, readFollowingReoffers } from './jobs.js'
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
import { faultyNodeBinPath, type NodeProcess, spawnNode } from './processes.js'
import { sleep } from './sleep.js'
import { createWorkload, type WorkloadJob } from './workload.js'

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

interface NodePlan {
  name: string
  roles: NodeRole[]
  extraRoles: string[]
  cheater: boolean
  stake: boolean
  priceFloor?: bigint
}

const TERMINAL: ReadonlySet<string> = new Set(['finalized', 'slashed', 'expired', 'failed'])
const SETTLEMENT: ReadonlySet<string> = new Set(['finalized', 'slashed'])

function plans(options: DevnetOptions): NodePlan[] {
  // The arbiter (interim council) rides on the verifier when the build has such a role.
  const arbiter = (nodeRoles as readonly string[]).includes('arbiter') ? ['arbiter'] : []
  const list: NodePlan[] = [
    { name: 'verifier', roles: ['verifier'], extraRoles: arbiter, cheater: false, stake: true },
  ]
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
  network: { listen: string; bootstrap: string[] },
  rpcUrl: string,
  deploymentFile: string,
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    roles: options.withRoles ? [...plan.roles, ...plan.extraRoles] : [],
    logLevel: options.nodeLogLevel,
    logFormat: 'json',
    network: { listen: [network.listen], bootstrap: network.bootstrap, mdns: false },
    chain: { rpcUrl, deploymentFile, confirmations: 1 },
    api: { enabled: true, host: '127.0.0.1', port: 0 },
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
  if (plan.roles.includes('requester')) config.requester = { biddingWindowMs: options.biddingWindowMs }
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
  signal: AbortSignal | undefined,
): Promise<NodeProcess> {
  const faults: CheatingFaultPlanOptions = { fraction: options.cheatFraction }
  return spawnNode({
    name: plan.name,
    dataDir,
    args: [],
    ...(plan.cheater
      ? { entry: faultyNodeBinPath(), env: { [DEVNET_FAULTS_ENV]: JSON.stringify(faults) } }
      : {}),
    timeoutMs: options.nodeStartTimeoutMs,
    ...(signal === undefined ? {} : { signal }),
  })
}

/** Starts the devnet; on any failure everything already started is stopped again. */
export async function startDevnet(
  init: Partial<DevnetOptions> = {},
  hooks: DevnetHooks = {},
): Promise<Devnet> {
  const options: DevnetOptions = { ...defaultDevnetOptions, ...init }
  const phases = selectedPhases(options)
  const emit = (event: DevnetEvent) => hooks.onEvent?.(event)
  const step = (message: string) => emit({ type: 'step', message })
  const signal = options.signal
  const temporary = options.dir === undefined
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'ocn-devnet-')))
  const keep = options.keep === true || !temporary
  await mkdir(dir, { recursive: true })

  const processes: NodeProcess[] = []
  let chain: DevChain | undefined
  let ticker: NodeJS.Timeout | undefined
  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (ticker !== undefined) clearInterval(ticker)
      await Promise.all(processes.map((p) => p.stop()))
      await chain?.stop()
      if (!keep) await rm(dir, { recursive: true, force: true })
    })()
    return stopped
  }

  try {
    step('starting anvil')
    chain = await startDevChain({ ...(signal === undefined ? {} : { signal }) })
    const devChain = chain
    const admin = createWalletClient({
      account: devChain.accounts[0]!,
      chain: devChain.chain,
      transport: http(devChain.rpcUrl),
    })
    // Anvil mines each transaction at once; an extra empty block every interval gives
    // verifiers fresh block hashes (randomness drawn after a commitment) while idle.
    if (options.blockTimeSeconds > 0) {
      ticker = setInterval(() => {
        admin.request({ method: 'evm_mine' as 'eth_chainId' }).catch(() => undefined)
      }, options.blockTimeSeconds * 1000)
      ticker.unref()
    }

    const nodePlans = plans(options)
    step(`creating keys for ${nodePlans.length} nodes`)
    const infos = await Promise.all(
      nodePlans.map(async (plan) => {
        const dataDir = join(dir, plan.name)
        await mkdir(dataDir, { recursive: true, mode: 0o700 })
        return { plan, dataDir, info: await initNodeKeys({ dataDir, force: true }) }
      }),
    )
    const verifierAddress = infos.find((n) => n.plan.name === 'verifier')!.info.address

    step('deploying the protocol')
    const deploymentFile = join(dir, 'deployment.json')
    const deployment = await deployProtocol(admin, {
      arbiter: verifierAddress,
      params: {
        challengeWindow: options.challengeWindowSeconds,
        unbondingDelay: BigInt(Math.max(options.challengeWindowSeconds, 60)),
      },
      outFile: deploymentFile,
    })

    const context: DevnetPhaseContext = {
      dir,
      chain: devChain,
      deployment,
      admin: admin as DevnetWallet,
      members: infos.map(({ plan, dataDir, info }) => ({
        name: plan.name,
        roles: plan.roles,
        cheater: plan.cheater,
        address: info.address,
        dataDir,
      })),
      options,
      step,
      ...(signal === undefined ? {} : { signal }),
    }

    step('funding and staking accounts')
    for (const { info } of infos) {
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
      infos
        .filter((n) => n.plan.stake)
        .map(async ({ dataDir }) => {
          const keys = await loadNodeKeys({ dataDir })
          const client = createWalletClient({
            account: keys.account,
            chain: devChain.chain,
            transport: http(devChain.rpcUrl),
          })
          const { token, stakeManager } = deployment.addresses
          await approveToken(client, { token, spender: stakeManager, amount: options.stakeOpen })
          await stake(client, { stakeManager, amount: options.stakeOpen })
        }),
    )

    // Ports and peer ids are known before any node starts, so every node bootstraps from all
    // the others: of each pair, the one that starts second dials the first, and a single
    // failed dial cannot leave a node alone.
    const fragments = new Map<string, ConfigFragment[]>()
    for (const phase of phases) {
      if (phase.prepare === undefined) continue
      const prepared = await phase.prepare(context)
      for (const [name, fragment] of Object.entries(prepared?.config ?? {}))
        fragments.set(name, [...(fragments.get(name) ?? []), fragment])
    }

    const ports = await Promise.all(infos.map(() => freePort()))
    const addresses = infos.map(({ info }, i) => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${info.peerId}`)
    for (const [index, { plan, dataDir }] of infos.entries()) {
      const network = {
        listen: `/ip4/127.0.0.1/tcp/${ports[index]}`,
        bootstrap: addresses.filter((_a, i) => i !== index),
      }
      const config = (fragments.get(plan.name) ?? []).reduce(
        mergeConfig,
        nodeConfig(plan, options, network, devChain.rpcUrl, deploymentFile),
      )
      await writeFile(join(dataDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
    }

    const nodes: DevnetNode[] = []
    const launch = async (entry: (typeof infos)[number], listenAddress: string): Promise<DevnetNode> => {
      const proc = await spawnPlannedNode(entry.plan, entry.dataDir, options, signal)
      processes.push(proc)
      if (proc.ready.api === null)
        throw new DevnetError('DEVNET_NODE_FAILED', `${entry.plan.name} has no API`)
      const node: DevnetNode = {
        name: entry.plan.name,
        role: entry.plan.roles[0]!,
        roles: [...entry.plan.roles, ...entry.plan.extraRoles],
        cheater: entry.plan.cheater,
        address: entry.info.address,
        peerId: proc.ready.peerId,
        dataDir: entry.dataDir,
        api: proc.ready.api,
        listen: [listenAddress],
      }
      emit({ type: 'node', node })
      return node
    }

    step('starting the nodes')
    // Providers start last: they announce their capabilities (address -> peer id) as they
    // start, and the verifier and the requester must already be there to hear it.
    const indexed = infos.map((entry, i) => ({ entry, address: addresses[i]! }))
    const isProvider = (e: (typeof indexed)[number]) => e.entry.plan.roles.includes('provider')
    const started = await Promise.all(
      indexed.filter((e) => !isProvider(e)).map((e) => launch(e.entry, e.address)),
    )
    started.push(...(await Promise.all(indexed.filter(isProvider).map((e) => launch(e.entry, e.address)))))
    // Reported in plan order (verifier, providers, requester).
    nodes.push(...infos.map((entry) => started.find((n) => n.name === entry.plan.name)!))

    step('waiting for the nodes to find each other')
    await waitForMesh(nodes, options, signal)

    const requester = nodes.find((n) => n.role === 'requester')!
    const devnet: Devnet = {
      dir,
      chain: devChain,
      deployment,
      nodes,
      requester,
      runWorkload: (run = {}) => runWorkload(devnet, context, phases, emit, run.signal ?? signal),
      stop,
    }
    return devnet
  } catch (error) {
    await stop()
    if (error instanceof DevnetError) throw error
    throw new DevnetError('DEVNET_CHAIN_FAILED', 'the devnet could not be started', {
      cause: error,
      details:
        error instanceof Error
          ? ((error as { shortMessage?: string }).shortMessage ?? error.message)
          : String(error),
    })
  }
}

/** Waits until every node's API answers and, where it runs libp2p, it is connected. */
async function waitForMesh(nodes: DevnetNode[], options: DevnetOptions, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + options.nodeStartTimeoutMs
  const meshDeadline = Date.now() + options.nodeStartTimeoutMs / 2
  for (;;) {
    const statuses = await Promise.all(
      nodes.map((n) => apiGet(n.api, apiRoutes.status, {}, { timeoutMs: 3_000 }).catch(() => undefined)),
    )
    // A full mesh is expected (every node dials every other); after half the time any
    // connected graph will do, gossip relays the rest.
    const wanted = Date.now() < meshDeadline ? nodes.length - 1 : 1
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

async function readBalance(devnet: Devnet, address: Address): Promise<AccountBalance> {
  const client = createWalletClient({
    account: devnet.chain.accounts[0]!,
    chain: devnet.chain.chain,
    transport: http(devnet.chain.rpcUrl),
  })
  const { token, stakeManager } = devnet.deployment.addresses
  const [native, held, stakeInfo] = await Promise.all([
    getBalance(client, { address }),
    getTokenBalance(client, { token, account: address }),
    getStake(client, { stakeManager, account: address }),
  ])
  return { native, token: held, staked: stakeInfo.staked + stakeInfo.unbonding, locked: stakeInfo.locked }
}

async function accounts(devnet: Devnet): Promise<{ name: string; address: Address }[]> {
  return [
    ...devnet.nodes.map((n) => ({ name: n.name, address: n.address })),
    { name: 'deployer (treasury)', address: devnet.deployment.deployer },
  ]
}

function historyAt(record: ApiJson<JobRecord>, states: ReadonlySet<string>): number | undefined {
  return record.history.find((entry) => states.has(entry.state))?.at
}

async function runWorkload(
  devnet: Devnet,
  context: DevnetPhaseContext,
  phases: readonly DevnetPhase[],
  emit: (event: DevnetEvent) => void,
  signal?: AbortSignal,
): Promise<DevnetSummary> {
  const options = context.options
  const started = Date.now()
  emit({ type: 'step', message: 'generating the workload (model, inputs, training job)' })
  const workload = await createWorkload(join(devnet.dir, 'workload'), options)
  for (const phase of phases)
    if (phase.jobs !== undefined) workload.jobs.push(...(await phase.jobs(context, workload)))
  const accountList = await accounts(devnet)
  const before = await Promise.all(accountList.map((a) => readBalance(devnet, a.address)))
  const byAddress = new Map(devnet.nodes.map((n) => [n.address.toLowerCase(), n]))

  const jobs: DevnetJob[] = []
  const submit = async (spec: WorkloadJob): Promise<DevnetJob> => {
    const job: DevnetJob = {
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
    }
    try {
      const body = {
        modelPath: spec.modelPath,
        inputsPath: spec.inputsPath,
        kind: spec.kind,
        verification: spec.verification ?? 'replay',
        ...(spec.trainingSpecPath === undefined ? {} : { trainingSpecPath: spec.trainingSpecPath }),
        ...(spec.datanetManifestPath === undefined ? {} : { datanetManifestPath: spec.datanetManifestPath }),
        ...(spec.microBatchSize === undefined ? {} : { microBatchSize: spec.microBatchSize }),
      }
      const { jobId } = await apiPost(devnet.requester.api, apiRoutes.submitJob, {}, body, {
        ...(signal === undefined ? {} : { signal }),
      })
      job.id = jobId
      job.status = 'offered'
    } catch (error) {
      job.error = error instanceof Error ? error.message : String(error)
      emit({ type: 'job', job, state: 'submit-failed', at: Date.now() })
    }
    return job
  }

  const deadline = Date.now() + options.workloadTimeoutMs
  const seen = new Map<string, Set<string>>()
  const track = async (batch: DevnetJob[]): Promise<void> => {
    for (;;) {
      const pending = batch.filter((j) => j.id !== '' && !TERMINAL.has(j.status))
      if (pending.length === 0) return
      if (Date.now() > deadline) {
        for (const job of pending) job.status = 'timeout'
        return
      }
      await Promise.all(pending.map((job) => refresh(job)))
      await sleep(250, signal)
    }
  }
  const refresh = async (job: DevnetJob): Promise<void> => {
    let followed: FollowedJob
    try {
      followed = await readFollowingReoffers(devnet.requester.api, job.id)
    } catch {
      return
    }
    const record = followed.record
    if (followed.id !== job.id) {
      emit({ type: 'job', job, state: `re-offered as ${followed.id}`, at: Date.now() })
      job.id = followed.id
      job.reoffers = followed.reoffers + (job.reoffers ?? 0)
    }
    const states = seen.get(job.id) ?? new Set<string>()
    seen.set(job.id, states)
    if (record.provider !== undefined) {
      job.provider = record.provider
      job.providerName = byAddress.get(record.provider.toLowerCase())?.name ?? null
    }
    if (record.price !== undefined) job.price = BigInt(record.price as unknown as string)
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

  // The cheater bids lowest, so it wins the first job alone and meets the verifier. The
  // rest go out once that is settled, when the requester knows the cheater's record.
  const [opening, ...rest] = workload.jobs
  if (opening !== undefined) {
    emit({ type: 'step', message: `submitting ${opening.name}` })
    const job = await submit(opening)
    jobs.push(job)
    await track([job])
  }
  if (rest.length > 0) {
    emit({ type: 'step', message: `submitting ${rest.map((j) => j.name).join(', ')}` })
    const batch: DevnetJob[] = []
    for (const spec of rest) {
      const job = await submit(spec)
      batch.push(job)
      jobs.push(job)
      // Staggered so each offer's bidding sees the slots the previous awards took.
      await sleep(300, signal)
    }
    await track(batch)
  }

  // Each phase's own demonstration; a phase that throws fails its check, not the run.
  const phaseReports: DevnetSummary['phases'] = {}
  const phaseChecks: Record<string, boolean> = {}
  const tokenHolders: Address[] = []
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
      const { checks, ...report } = await phase.afterWorkload({ ...context, nodes: running, workload, jobs })
      phaseReports[phase.name] = report
      for (const [name, passed] of Object.entries(checks)) phaseChecks[`${phase.name}.${name}`] = passed
      tokenHolders.push(...(report.tokenHolders ?? []))
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      emit({ type: 'step', message: `phase ${phase.name} failed: ${message}` })
      phaseReports[phase.name] = { report: { error: message } }
      phaseChecks[`${phase.name}.completed`] = false
    }
  }

  // Settlement transfers happen in the transactions the requester just saw; read after them.
  const after = await Promise.all(accountList.map((a) => readBalance(devnet, a.address)))
  const balances = accountList.map((a, i) => ({ ...a, before: before[i]!, after: after[i]! }))

  const cheaters = new Set(devnet.nodes.filter((n) => n.cheater).map((n) => n.address.toLowerCase()))
  const isCheater = (job: DevnetJob) => job.provider !== null && cheaters.has(job.provider.toLowerCase())
  const honestJobs = jobs.filter((j) => !isCheater(j))
  const cheaterJobs = jobs.filter(isCheater)
  const cheaterBalances = balances.filter((b) => cheaters.has(b.address.toLowerCase()))
  const checks = {
    honestJobsSettled: honestJobs.length > 0 && honestJobs.every((j) => j.status === 'finalized'),
    cheaterCaught:
      cheaterJobs.some((j) => j.status === 'slashed') &&
      cheaterBalances.every((b) => b.after.staked < b.before.staked),
    honestNeverSlashed: honestJobs.every((j) => j.status !== 'slashed'),
    tokensConserved: await tokensConserved(devnet, [...accountList.map((a) => a.address), ...tokenHolders]),
    ...phaseChecks,
  }
  return {
    ok: Object.values(checks).every(Boolean),
    chainId: devnet.deployment.chainId,
    rpcUrl: devnet.chain.rpcUrl,
    contracts: devnet.deployment.addresses,
    deployBlock: devnet.deployment.deployBlock,
    dir: devnet.dir,
    nodes: devnet.nodes.map(({ dataDir: _d, listen: _l, ...node }) => node),
    jobs,
    balances,
    phases: phaseReports,
    checks,
    durationMs: Date.now() - started,
  }
}

/** Every OPEN is held by an account here, the StakeManager (stakes) or the JobMarket (escrow, bonds, fees). */
async function tokensConserved(devnet: Devnet, holders: Address[]): Promise<boolean> {
  const client = createWalletClient({
    account: devnet.chain.accounts[0]!,
    chain: devnet.chain.chain,
    transport: http(devnet.chain.rpcUrl),
  })
  const { token, stakeManager, jobMarket } = devnet.deployment.addresses
  const supply = await readContract(client, {
    address: token,
    abi: openTokenAbi,
    functionName: 'totalSupply',
  })
  // Every contract of the deployment may hold OPEN (escrow, stakes, pools, channels).
  const contracts = Object.values(devnet.deployment.addresses).filter(
    (a): a is Address => typeof a === 'string',
  )
  const unique = [
    ...new Set([...holders, stakeManager, jobMarket, ...contracts].map((a) => a.toLowerCase() as Address)),
  ]
  const held = await Promise.all(unique.map((account) => getTokenBalance(client, { token, account })))
  return held.reduce((a, b) => a + b, 0n) === supply
}
