#!/usr/bin/env node
/**
 * Sustained load on the testnet (issue 17, item 4): every node an `ocn start` process in its own
 * network namespace behind a shaped, delayed link (packages/cli/src/testnet), one shared anvil.
 * By default 20 providers (one of them cheating: it corrupts half of its micro-batches and bids
 * lowest), 3 verifiers and 4 requesters. Each requester keeps --in-flight jobs offered and not
 * yet committed, for --minutes: an inference job (64 samples, 8 per micro-batch) on one model
 * with fresh inputs per job (a pool of --input-files, then reused), so providers fetch each
 * job's inputs over the links. Then up to --settle-minutes let the submitted jobs settle.
 *
 * What it measures, and how it names the first bottleneck (testnet/load.ts, pickBottleneck):
 * - CPU: the machine's busy share from /proc/stat over the submission window (other users of
 *   the machine included), and each process's share from /proc/<pid>/stat (nodes, the relays
 *   in their namespaces, anvil, this harness), the load average at both ends;
 * - chain: a probe transaction every 5 s from a spare anvil account, send to receipt; the
 *   requesters' award latency (bidding closed to award recorded); JobMarket gas per block;
 * - gossip: each offer's delay from the requester's record to each provider's validated copy
 *   (the provider's GET /offers receivedAt);
 * - transfer: each bid's artifact check (offer received to bid recorded at the provider: the
 *   fetch of the job's files over the links and their checks), against the provider's limit.
 * Job records are read through each node's local API with @ocn/client (devnet/node-client.ts).
 *
 * The last stdout line (--json) is one JSON object: { nodes, jobsSubmitted, jobsFinalized,
 * jobsPerHour, offerToResultP50Ms, offerToResultP95Ms, gasPerJob, failedHonestJobs,
 * honestSlashed, cheaterCaught, maxRssMb, bottleneck: { kind, evidence } }. offerToResult is
 * the first offer's record to the result committed on chain (re-offers included); jobsPerHour
 * the finalized jobs over first submission to last finalization; gasPerJob every JobMarket
 * transaction's gas in the run over the jobs settled on chain (finalized, or slashed: the
 * cheater's jobs cost awards and commits too). Exits 1 when an honest job failed, an
 * honest node was slashed or the cheater was not caught.
 *
 * Usage (root): npm run bench:load -- [--minutes 10] [--providers 20] [--verifiers 3]
 *   [--requesters 4] [--in-flight 3] [--settle-minutes 5] [--json] [--keep]
 * Ctrl-C ends the run; the testnet removes its namespaces, links and processes on any exit.
 */
import '@ocn/protocol/polyfill'
import { execFile } from 'node:child_process'
import { setMaxListeners } from 'node:events'
import { readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { createPublicClient, createWalletClient, http, parseEventLogs, toHex } from 'viem'
import { getContractEvents, sendTransaction, waitForTransactionReceipt } from 'viem/actions'

if (process.getuid?.() !== 0) {
  process.stderr.write(
    'bench:load needs root: the testnet creates network namespaces, veth links and qdiscs (run it as root, e.g. `sudo npm run bench:load`)\n',
  )
  process.exit(1)
}

const { createWorkload, defaultDevnetOptions, readFollowingReoffers, readRssBytes } = await import(
  '../packages/cli/dist/devnet/index.js'
)
const { devnetNodeApi } = await import('../packages/cli/dist/devnet/node-client.js')
const testnetLib = await import('../packages/cli/dist/testnet/index.js')
const { loadScenario, machineBusyFraction, parsePidStatTicks, parseProcStat, percentile, pickBottleneck } =
  testnetLib
const { jobMarketAbi, stakeManagerAbi } = await import('../packages/contracts-client/dist/index.js')
const { readApiRuntimeFile } = await import('../packages/node/dist/daemon/index.js')

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    providers: { type: 'string', default: '20' },
    verifiers: { type: 'string', default: '3' },
    requesters: { type: 'string', default: '4' },
    'in-flight': { type: 'string', default: '3' },
    'settle-minutes': { type: 'string', default: '5' },
    'input-files': { type: 'string', default: '256' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})
const opt = {
  minutes: Number(args.minutes),
  providers: Number(args.providers),
  verifiers: Number(args.verifiers),
  requesters: Number(args.requesters),
  inFlight: Number(args['in-flight']),
  settleMs: Number(args['settle-minutes']) * 60_000,
  inputFiles: Number(args['input-files']),
}
for (const [name, value] of Object.entries(opt))
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: not a positive number`)
if (opt.providers < 2) throw new Error('--providers: at least 2 (one of them cheats)')

const log = (text) => (args.json ? process.stderr : process.stdout).write(`${text}\n`)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** Sleeps up to `ms`, ending early once the run stops. */
async function pause(ms) {
  const until = Date.now() + ms
  while (running && Date.now() < until) await sleep(Math.min(1_000, until - Date.now()))
}
const round = (v) => (v === null || v === undefined ? null : Math.round(v))
const SAMPLES = 64
const MICRO_BATCH = 8
/** Long enough for a challenger to check a commit on a starved machine (devnet: 12 s). */
const CHALLENGE_WINDOW_SECONDS = 30
const COURT_PERIODS = { revealPeriod: 30, voteCommitPeriod: 30, voteRevealPeriod: 30, appealPeriod: 15 }
const PROBE_EVERY_MS = 5_000
const RSS_EVERY_MS = 10_000
const TRACK_EVERY_MS = 2_000

/** A challenger never sits on its own jury: the largest odd jury the other verifiers fill (at most 3). */
function jurySize(verifiers) {
  const others = Math.max(1, Math.min(3, verifiers - 1))
  return others % 2 === 1 ? others : others - 1
}

// ---- the run's state ---------------------------------------------------------------------

const stats = {
  /** one entry per submitted job: { requester, api, first, current, submittedAt, offeredAt, resultAt, outcome, endedAt, provider, awardLatencyMs } */
  jobs: [],
  submitFailures: 0,
  probesMs: [],
  probeFailures: 0,
  /** node name -> highest RSS seen, bytes */
  rss: new Map(),
  /** `${provider}|${jobId}` -> when that provider's bidding role received the offer */
  offerSeen: new Map(),
}
let endAt = 0
let running = true
const controller = new AbortController()
// every node's start listens on it: 27 nodes are not a leak
setMaxListeners(100, controller.signal)
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(130)
    log(`${signal}: ending the run; the testnet removes its namespaces`)
    endAt = Date.now()
    running = false
    controller.abort()
  })

const open = (job) => job.outcome === undefined
const openFor = (name) =>
  stats.jobs.filter((j) => j.requester === name && open(j) && j.resultAt === undefined)

// ---- submitting and following jobs -------------------------------------------------------

async function submitLoop(requester, inputs) {
  const node = devnetNodeApi(requester.api)
  while (running && Date.now() < endAt) {
    if (openFor(requester.name).length >= opt.inFlight) {
      await sleep(250)
      continue
    }
    const inputsPath = inputs.next()
    const submittedAt = Date.now()
    try {
      const { jobId } = await node.client.submit(
        {
          kind: 'inference',
          modelPath: inputs.modelPath,
          inputsPath,
          verification: 'replay',
          microBatchSize: MICRO_BATCH,
        },
        { timeoutMs: 60_000 },
      )
      stats.jobs.push({
        requester: requester.name,
        api: requester.api,
        first: jobId,
        current: jobId,
        submittedAt,
      })
    } catch (error) {
      stats.submitFailures++
      log(`submit on ${requester.name} failed: ${error.message ?? error}`)
      await sleep(1_000)
    }
  }
}

const historyAt = (record, state) => record.history.find((h) => h.state === state)?.at

/** Reads one job through the requester's re-offers and notes its result and outcome. */
async function track(job) {
  const followed = await readFollowingReoffers(job.api, job.current)
  const record = followed.record
  job.current = followed.id
  job.offeredAt ??= followed.reoffers === 0 ? record.createdAt : job.submittedAt
  if (record.provider !== undefined) job.provider = record.provider.toLowerCase()
  const committedAt = historyAt(record, 'committed')
  if (committedAt !== undefined && job.resultAt === undefined) job.resultAt = committedAt
  const awardedAt = historyAt(record, 'awarded')
  const closes = record.detail?.biddingClosesAt
  if (awardedAt !== undefined && typeof closes === 'number') job.awardLatencyMs = awardedAt - closes
  const ended =
    ['finalized', 'slashed'].includes(record.state) ||
    (['failed', 'expired'].includes(record.state) && !followed.awaitingReoffer)
  if (ended) {
    job.outcome = record.state
    job.note = record.history.at(-1)?.note
    job.endedAt = record.history.at(-1)?.at ?? Date.now()
  }
}

async function trackLoop(requesters) {
  while (running || stats.jobs.some(open)) {
    await Promise.all(
      requesters.map(async (r) => {
        for (const job of stats.jobs.filter((j) => j.requester === r.name && open(j)))
          await track(job).catch(() => undefined)
      }),
    )
    if (!running && Date.now() > settleUntil) return
    await sleep(TRACK_EVERY_MS)
  }
}
let settleUntil = Number.POSITIVE_INFINITY

// ---- measurements ------------------------------------------------------------------------

/** A transaction of a spare anvil account to itself every few seconds: send to receipt. */
async function probeLoop(devnet) {
  const account = devnet.chain.accounts.at(-1)
  const wallet = createWalletClient({
    account,
    chain: devnet.chain.chain,
    transport: http(devnet.chain.rpcUrl),
  })
  while (running && Date.now() < endAt) {
    const t = Date.now()
    try {
      const hash = await sendTransaction(wallet, { to: account.address, value: 0n })
      await waitForTransactionReceipt(wallet, { hash, pollingInterval: 50, timeout: 60_000 })
      stats.probesMs.push(Date.now() - t)
    } catch {
      stats.probeFailures++
    }
    await sleep(Math.max(0, PROBE_EVERY_MS - (Date.now() - t)))
  }
}

async function nodePid(node) {
  return (await readApiRuntimeFile(node.dataDir).catch(() => undefined))?.pid
}

async function rssLoop(nodes) {
  while (running) {
    for (const n of nodes) {
      const pid = await nodePid(n)
      const bytes = pid === undefined ? undefined : await readRssBytes(pid)
      if (bytes !== undefined) stats.rss.set(n.name, Math.max(stats.rss.get(n.name) ?? 0, bytes))
    }
    await pause(RSS_EVERY_MS)
  }
}

/** Each provider's offers as its bidding role received them (a bounded list: read every minute). */
async function readOffersSeen(providers) {
  for (const p of providers) {
    const offers = await devnetNodeApi(p.api)
      .client.offers({ timeoutMs: 15_000 })
      .catch(() => [])
    for (const o of offers) stats.offerSeen.set(`${p.name}|${o.jobId.toLowerCase()}`, o.receivedAt)
  }
}

async function offersLoop(providers) {
  while (running) {
    await pause(60_000)
    if (running) await readOffersSeen(providers)
  }
}

/**
 * Every process of the testnet now, by pid: anvil, and whatever runs in each node's namespace
 * (the daemon, its executor workers, the link's relay).
 */
async function testnetProcesses(testnet) {
  const run = promisify(execFile)
  const list = new Map([[testnet.devnet.chain.pid, { name: 'anvil', kind: 'anvil' }]])
  for (const [index, node] of testnet.devnet.nodes.entries()) {
    const pid = await nodePid(node)
    const { stdout } = await run('ip', ['netns', 'pids', testnet.network.namespaces[index]], {
      timeout: 10_000,
    })
    for (const other of stdout.split(/\s+/).filter(Boolean).map(Number)) {
      const cmdline = await readFile(`/proc/${other}/cmdline`, 'utf8').catch(() => '')
      if (cmdline.includes('link-relay')) list.set(other, { name: `relay ${node.name}`, kind: 'relay' })
      else list.set(other, { name: other === pid ? node.name : `${node.name} worker`, kind: 'node' })
    }
  }
  list.delete(undefined)
  return list
}

/** The machine's and each testnet process's CPU ticks now. */
async function cpuSnapshot(testnet) {
  const processes = await testnetProcesses(testnet)
  const ticks = new Map()
  for (const pid of processes.keys()) {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
    if (text !== undefined) ticks.set(pid, parsePidStatTicks(text))
  }
  return {
    at: Date.now(),
    machine: parseProcStat(await readFile('/proc/stat', 'utf8')),
    processes,
    ticks,
    harnessUs: process.cpuUsage(),
    load: loadavg()[0],
  }
}

/**
 * Cores each kind of process used between two snapshots (USER_HZ is 100 on Linux); a process
 * started in between (an executor worker) counts from 0.
 */
function cpuEvidence(before, after) {
  const seconds = (after.at - before.at) / 1000
  const cores = (ticks) => Math.round((ticks / 100 / seconds) * 100) / 100
  const used = [...after.processes]
    .filter(([pid]) => after.ticks.has(pid))
    .map(([pid, p]) => ({ ...p, cores: cores(after.ticks.get(pid) - (before.ticks.get(pid) ?? 0)) }))
  const byKind = {}
  for (const p of used) byKind[p.kind] = Math.round(((byKind[p.kind] ?? 0) + p.cores) * 100) / 100
  const harness = process.cpuUsage(before.harnessUs)
  byKind.harness = cores((harness.user + harness.system) / 10_000)
  const busy = machineBusyFraction(before.machine, after.machine)
  const ours = Object.values(byKind).reduce((s, v) => s + v, 0)
  return {
    machineBusy: busy,
    machineBusyPct: Math.round(busy * 1000) / 10,
    cpus: cpus().length,
    loadAverage1m: { start: before.load, end: after.load },
    coresUsed: { ...byKind, otherUsers: Math.max(0, Math.round((busy * cpus().length - ours) * 100) / 100) },
    topProcesses: used
      .sort((a, b) => b.cores - a.cores)
      .slice(0, 5)
      .map((p) => ({ name: p.name, cores: p.cores })),
  }
}

/** The JobMarket event that marks each settlement step of a job. */
const SETTLEMENT_EVENTS = { JobAwarded: 'award', ResultCommitted: 'commit', JobFinalized: 'finalize' }

/**
 * JobMarket gas and every transaction of the blocks in [from, to], and per settlement step the
 * JobMarket transactions that took it and the jobs they took it for (more jobs than
 * transactions: the nodes' batch calls).
 */
async function chainTraffic(client, jobMarket, from, to) {
  let jobMarketGas = 0n
  let jobMarketTxs = 0
  let txs = 0
  const settlement = {
    award: { transactions: 0, jobs: 0 },
    commit: { transactions: 0, jobs: 0 },
    finalize: { transactions: 0, jobs: 0 },
  }
  for (let n = from; n <= to; n++) {
    const receipts = await client.request({ method: 'eth_getBlockReceipts', params: [toHex(n)] })
    for (const r of receipts ?? []) {
      txs++
      if (r.to?.toLowerCase() !== jobMarket.toLowerCase()) continue
      jobMarketTxs++
      jobMarketGas += BigInt(r.gasUsed)
      const own = r.logs.filter((l) => l.address.toLowerCase() === jobMarket.toLowerCase())
      const steps = new Map()
      for (const { eventName } of parseEventLogs({ abi: jobMarketAbi, logs: own, strict: false })) {
        const step = SETTLEMENT_EVENTS[eventName]
        if (step !== undefined) steps.set(step, (steps.get(step) ?? 0) + 1)
      }
      for (const [step, jobs] of steps) {
        settlement[step].transactions++
        settlement[step].jobs += jobs
      }
    }
  }
  return { jobMarketGas, jobMarketTxs, txs, settlement, blocks: Number(to - from + 1n) }
}

/** The settlement steps of two windows added up. */
function addSettlement(a, b) {
  return Object.fromEntries(
    Object.keys(a).map((step) => [
      step,
      { transactions: a[step].transactions + b[step].transactions, jobs: a[step].jobs + b[step].jobs },
    ]),
  )
}

// ---- the report --------------------------------------------------------------------------

/** Offer delivery lag (gossip) and the artifact check before each bid (transfer), per provider and job. */
async function offerTimings(requesters, providers) {
  await readOffersSeen(providers)
  const offeredAt = new Map()
  for (const r of requesters) {
    const records = await devnetNodeApi(r.api)
      .client.jobs({ role: 'requester' }, { timeoutMs: 30_000 })
      .catch(() => [])
    for (const j of records) offeredAt.set(j.id.toLowerCase(), j.createdAt)
  }
  const lags = []
  for (const [key, at] of stats.offerSeen) {
    const created = offeredAt.get(key.split('|')[1])
    if (created !== undefined) lags.push(at - created)
  }
  const prebid = []
  for (const p of providers) {
    const records = await devnetNodeApi(p.api)
      .client.jobs({ role: 'provider' }, { timeoutMs: 30_000 })
      .catch(() => [])
    for (const j of records) {
      const seen = stats.offerSeen.get(`${p.name}|${j.id.toLowerCase()}`)
      if (seen !== undefined) prebid.push(j.createdAt - seen)
    }
  }
  return { lags, prebid }
}

async function slashes(client, devnet) {
  const events = await getContractEvents(client, {
    address: devnet.deployment.addresses.stakeManager,
    abi: stakeManagerAbi,
    eventName: 'Slashed',
    fromBlock: 0n,
  })
  const nameOf = (a) => devnet.nodes.find((n) => n.address.toLowerCase() === a.toLowerCase())?.name ?? a
  for (const e of events)
    log(`slashed: ${nameOf(e.args.account)} ${e.args.amount} wei (block ${e.blockNumber})`)
  const cheaters = new Set(devnet.nodes.filter((n) => n.cheater).map((n) => n.address.toLowerCase()))
  return {
    honest: events.filter((e) => !cheaters.has(e.args.account.toLowerCase())).length,
    cheater: events.filter((e) => cheaters.has(e.args.account.toLowerCase())).length,
  }
}

function bottleneckOf(cpu, chain, timings, prebidTimeoutMs) {
  const awards = stats.jobs.map((j) => j.awardLatencyMs).filter((v) => v !== undefined)
  const signals = {
    machineBusy: cpu.machineBusy,
    chainProbeP95Ms: percentile(stats.probesMs, 95),
    offerLagP95Ms: percentile(timings.lags, 95),
    prebidP95Ms: percentile(timings.prebid, 95),
    prebidTimeoutMs,
  }
  const picked = pickBottleneck(signals)
  const { machineBusy: _m, ...cpuShown } = cpu
  const ratios = Object.fromEntries(
    Object.entries(picked.ratios).map(([k, v]) => [k, v === null ? null : Math.round(v * 100) / 100]),
  )
  return {
    kind: picked.kind,
    evidence: {
      saturated: picked.saturated,
      ratiosToLimit: ratios,
      cpu: cpuShown,
      chain: {
        probeTxP50Ms: percentile(stats.probesMs, 50),
        probeTxP95Ms: signals.chainProbeP95Ms,
        probes: stats.probesMs.length,
        probeFailures: stats.probeFailures,
        awardLatencyP50Ms: percentile(awards, 50),
        awardLatencyP95Ms: percentile(awards, 95),
        ...chain,
      },
      gossip: {
        offerLagP50Ms: percentile(timings.lags, 50),
        offerLagP95Ms: signals.offerLagP95Ms,
        samples: timings.lags.length,
      },
      transfer: {
        prebidP50Ms: percentile(timings.prebid, 50),
        prebidP95Ms: signals.prebidP95Ms,
        prebidTimeoutMs,
        samples: timings.prebid.length,
      },
    },
  }
}

function jobFigures(devnet) {
  const cheaters = new Set(devnet.nodes.filter((n) => n.cheater).map((n) => n.address.toLowerCase()))
  const finalized = stats.jobs.filter((j) => j.outcome === 'finalized')
  const results = stats.jobs.filter((j) => j.resultAt !== undefined).map((j) => j.resultAt - j.offeredAt)
  const first = Math.min(...stats.jobs.map((j) => j.submittedAt))
  const last = Math.max(...finalized.map((j) => j.endedAt))
  const failedHonest = stats.jobs.filter((j) => j.outcome !== 'finalized' && !cheaters.has(j.provider ?? ''))
  for (const j of failedHonest)
    log(
      `not finalized: ${j.first.slice(0, 10)} of ${j.requester}: ${j.outcome ?? 'still open'}${j.note ? `: ${j.note}` : ''} (provider ${j.provider ?? 'none'})`,
    )
  return {
    jobsSubmitted: stats.jobs.length,
    jobsFinalized: finalized.length,
    jobsSlashed: stats.jobs.filter((j) => j.outcome === 'slashed').length,
    jobsPerHour: finalized.length === 0 ? 0 : Math.round((finalized.length / (last - first)) * 3_600_000),
    offerToResultP50Ms: round(percentile(results, 50)),
    offerToResultP95Ms: round(percentile(results, 95)),
    failedHonestJobs: failedHonest.length,
  }
}

// ---- the run -----------------------------------------------------------------------------

async function inputPool(dir) {
  const workload = await createWorkload(dir, {
    inferenceJobs: opt.inputFiles,
    trainingJob: false,
    samplesPerJob: SAMPLES,
    microBatchSize: MICRO_BATCH,
  })
  let i = 0
  return { modelPath: workload.modelPath, next: () => workload.jobs[i++ % workload.jobs.length].inputsPath }
}

async function startLoadTestnet() {
  const scenario = loadScenario(opt)
  log(
    `testnet: ${opt.requesters} requesters, ${opt.verifiers} verifiers, ${opt.providers} providers (one cheating)`,
  )
  return testnetLib.startTestnet(
    {
      scenario,
      devnet: {
        inferenceJobs: 0,
        trainingJob: false,
        generateJobs: false,
        sequenceJob: false,
        phases: [],
        cheater: true,
        challengeWindowSeconds: CHALLENGE_WINDOW_SECONDS,
        court: { ...defaultDevnetOptions.court, ...COURT_PERIODS, jurySize: jurySize(opt.verifiers) },
        // 27 daemons coming up on two shared cores take minutes
        nodeStartTimeoutMs: 360_000,
        nodeLogLevel: 'warn',
      },
      keep: args.keep,
      signal: controller.signal,
    },
    { onEvent: (e) => e.type === 'step' && log(`testnet: ${e.message}`) },
  )
}

function progress(started) {
  const count = (s) => stats.jobs.filter((j) => j.outcome === s).length
  log(
    `[${Math.round((Date.now() - started) / 1000)} s] ${stats.jobs.length} submitted, ${stats.jobs.filter((j) => j.resultAt !== undefined).length} results, ` +
      `${count('finalized')} finalized, ${count('slashed')} slashed, ${count('failed') + count('expired')} failed, ${stats.jobs.filter(open).length} open; load ${loadavg()[0].toFixed(1)}`,
  )
}

async function measure(testnet) {
  const { devnet } = testnet
  const requesters = devnet.nodes.filter((n) => n.roles.includes('requester'))
  const providers = devnet.nodes.filter((n) => n.roles.includes('provider'))
  const client = createPublicClient({ chain: devnet.chain.chain, transport: http(devnet.chain.rpcUrl) })
  const inputs = await inputPool(join(devnet.dir, 'load-workload'))
  const startBlock = await client.getBlockNumber()
  const before = await cpuSnapshot(testnet)
  const started = Date.now()
  endAt = started + opt.minutes * 60_000
  const ticker = setInterval(() => progress(started), 30_000)
  const background = [trackLoop(requesters), rssLoop(devnet.nodes), offersLoop(providers)]
  try {
    await Promise.all([...requesters.map((r) => submitLoop(r, inputs)), probeLoop(devnet)])
    const after = await cpuSnapshot(testnet)
    const endBlock = await client.getBlockNumber()
    log(`submission over after ${opt.minutes} min; settling (up to ${opt.settleMs / 60_000} min)`)
    running = false
    settleUntil = Date.now() + (controller.signal.aborted ? 0 : opt.settleMs)
    await Promise.allSettled(background)
    progress(started)
    const { jobMarket } = devnet.deployment.addresses
    const chainWindow = await chainTraffic(client, jobMarket, startBlock, endBlock)
    const settling = await chainTraffic(client, jobMarket, endBlock + 1n, await client.getBlockNumber())
    const jobMarketGas = chainWindow.jobMarketGas + settling.jobMarketGas
    const seconds = (after.at - before.at) / 1000
    const chain = {
      txPerSecond: Math.round((chainWindow.txs / seconds) * 10) / 10,
      jobMarketGasPerSecond: Math.round(Number(chainWindow.jobMarketGas) / seconds),
      blocks: chainWindow.blocks,
      settlement: addSettlement(chainWindow.settlement, settling.settlement),
    }
    const timings = await offerTimings(requesters, providers)
    const figures = jobFigures(devnet)
    const slashed = await slashes(client, devnet)
    const prebidTimeoutMs = Math.floor(testnetLib.TESTNET_BIDDING_WINDOW_MS / 2)
    const settledOnChain = figures.jobsFinalized + figures.jobsSlashed
    log(
      `JobMarket: ${chainWindow.jobMarketTxs + settling.jobMarketTxs} transactions, ${jobMarketGas} gas; ` +
        `${figures.jobsFinalized} jobs finalized, ${figures.jobsSlashed} slashed (the cheater's); ` +
        Object.entries(chain.settlement)
          .map(([step, { transactions, jobs }]) => `${step} ${jobs} jobs in ${transactions} transactions`)
          .join(', '),
    )
    return {
      nodes: devnet.nodes.length,
      jobsSubmitted: figures.jobsSubmitted,
      jobsFinalized: figures.jobsFinalized,
      jobsPerHour: figures.jobsPerHour,
      offerToResultP50Ms: figures.offerToResultP50Ms,
      offerToResultP95Ms: figures.offerToResultP95Ms,
      gasPerJob: settledOnChain === 0 ? null : Math.round(Number(jobMarketGas) / settledOnChain),
      failedHonestJobs: figures.failedHonestJobs,
      honestSlashed: slashed.honest,
      cheaterCaught: slashed.cheater > 0,
      maxRssMb: Object.fromEntries(
        devnet.nodes.map((n) => [n.name, Math.round((stats.rss.get(n.name) ?? 0) / 2 ** 20)]),
      ),
      bottleneck: bottleneckOf(cpuEvidence(before, after), chain, timings, prebidTimeoutMs),
    }
  } finally {
    clearInterval(ticker)
    running = false
  }
}

const testnet = await startLoadTestnet()
let result
try {
  result = await measure(testnet)
} finally {
  running = false
  await testnet.stop()
}
if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`)
else log(JSON.stringify(result, null, 2))
if (result.failedHonestJobs !== 0 || result.honestSlashed !== 0 || !result.cheaterCaught) process.exitCode = 1
