#!/usr/bin/env node
/**
 * Soak benchmark (issue 13): a devnet (anvil with a block every second, two honest providers,
 * a cheating one, a verifier that adjudicates, a requester; each its own `ocn start` process
 * over TCP) runs for --minutes with three things at once:
 *
 * - a steady workload: one inference job every --job-interval seconds, at most
 *   --max-in-flight unsettled at a time, followed through the requester's re-offers;
 * - chaos: a seeded schedule kills (SIGKILL) and restarts providers, the verifier and the
 *   requester at lifecycle points (before the award, after it, during execution, between the
 *   commit transaction and its receipt, in the challenge window), roughly every
 *   --chaos-interval seconds; the seed is printed on stderr and --seed replays the schedule;
 * - a hostile peer (public libp2p packages only), a fresh identity every 30 s, flooding the
 *   gossip topics and holding stalled streams on the nodes' protocols.
 *
 * Then the workload and chaos stop, every node is up, and a settle period (up to
 * --settle-minutes) lets every job end on chain and every record end locally. The last stdout
 * line (--json) is one JSON object:
 *   { jobs, finalized, honestSlashed, stuckRecords, conservationOk, rssGrowthMbPerHour }
 * honestSlashed counts StakeManager Slashed events of every honest participant, whatever
 * adjudicated: providers not running a cheating fault plan, and every verifier (all of them act
 * honestly here; a slash of one is a false-challenge ruling or a juror penalty it did not earn,
 * e.g. a challenge of a provider that was only restarting). Concession fees that honest
 * verifiers paid to withdraw such a challenge before its jury (DisputeCourt ChallengeConceded;
 * not a slash, the fisherman's dilemma's price) go to stderr as `concession fees: ...`, not
 * into the JSON, whose keys issue 13 fixes. stuckRecords the local records of every node still not
 * terminal; rssGrowthMbPerHour each node's memory growth (devnet/rss.ts). The process exits 1
 * when honestSlashed or stuckRecords is not 0 or the books do not balance.
 *
 * Usage: npm run bench:soak -- [--minutes 30] [--seed N] [--json] [--settle-minutes 10]
 *   [--job-interval 8] [--max-in-flight 4] [--chaos-interval 40] [--keep]
 * Progress goes to stderr every minute (jobs submitted/finalized, kills, RSS per node).
 */
import '@ocn/protocol/polyfill'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { createPublicClient, formatEther, http } from 'viem'
import { getContractEvents } from 'viem/actions'
import {
  createWorkload,
  DevnetProcesses,
  defaultDevnetOptions,
  hostilePeer,
  isSettledRecord,
  processExited,
  readDevnetBooks,
  readFollowingReoffers,
  readRssBytes,
  rssGrowthMbPerHour,
  seeded,
  startDevnet,
} from '../packages/cli/dist/devnet/index.js'
import { disputeCourtAbi, getJob, stakeManagerAbi } from '../packages/contracts-client/dist/index.js'
import { readApiRuntimeFile } from '../packages/node/dist/daemon/index.js'
import { contentHashOf } from '../packages/protocol/dist/index.js'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    'settle-minutes': { type: 'string', default: '10' },
    'job-interval': { type: 'string', default: '8' },
    'max-in-flight': { type: 'string', default: '4' },
    'chaos-interval': { type: 'string', default: '40' },
    keep: { type: 'boolean', default: false },
  },
})
const minutes = Number(args.minutes)
const seed = Number(args.seed ?? Math.floor(Math.random() * 2 ** 31))
const settleMs = Number(args['settle-minutes']) * 60_000
const jobIntervalMs = Number(args['job-interval']) * 1000
const maxInFlight = Number(args['max-in-flight'])
const chaosIntervalMs = Number(args['chaos-interval']) * 1000
for (const [name, value] of Object.entries({
  minutes,
  seed,
  settleMs,
  jobIntervalMs,
  maxInFlight,
  chaosIntervalMs,
}))
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: not a non-negative number`)
const log = (text) => (args.json ? process.stderr : process.stdout).write(`${text}\n`)

/** Long enough to kill and restart the requester inside it on a loaded machine. */
const BIDDING_WINDOW_MS = 5_000
/**
 * A provider is judged unreachable only near the window's end (verifier.unknownPeerGraceSeconds
 * before it), so the window must outlast a chaos step's down time (under 5 s) plus a restart,
 * which takes 10-20 s on a loaded 2-core machine; a shorter window slashes honest providers
 * for a restart the rules meant to allow (measured: 15 s slashed 3 in 30 minutes).
 */
const CHALLENGE_WINDOW_SECONDS = 45
/**
 * The same holds for the court's deadlines: a verifier killed between its sealed challenge and
 * the reveal, or a juror between its vote commit and reveal, must be back before the period
 * ends, or it forfeits stake it was right to risk (the devnet's 10-15 s periods are shorter than
 * a loaded restart; measured: one honest challenger lost 25 OPEN in a 30-minute run).
 * The reveal period is also how long a challenger of a provider that was down through its
 * window keeps asking it again before revealing: a provider back within it (a restart under
 * load took ~61 s from the crash) gets the challenge conceded, for the court's concessionFee
 * (measured before concessions: four verifiers each lost 25 OPEN of stake, 16 times in 30
 * minutes, all ruled false challenges of an honest provider back after the window).
 */
const COURT_PERIODS = { revealPeriod: 40, voteCommitPeriod: 40, voteRevealPeriod: 40, appealPeriod: 20 }
const CHEAT_FRACTION = 0.5
const HOSTILE_ROUND_MS = 30_000
const RSS_EVERY_MS = 10_000
/** How long a chaos step waits for its lifecycle point before it gives up on it. */
const TRIGGER_TIMEOUT_MS = 120_000
const SETTLED_ON_CHAIN = new Set(['finalized', 'providerSlashed', 'expired'])
const KILL_POINTS = ['before-award', 'after-award', 'during-execution', 'commit-sent', 'dispute-window']

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const short = (id) => id.slice(0, 10)

const random = seeded(seed)
const pick = (list) => list[Math.floor(random() * list.length)]
log(
  `soak seed ${seed} (replay: --seed ${seed}); ${minutes} min, then up to ${settleMs / 60_000} min to settle`,
)

const stats = {
  /** submitted job id -> { current: newest on-chain id, ids: every id it had, outcome } */
  jobs: new Map(),
  submitFailures: 0,
  kills: 0,
  missed: 0,
  hostileRounds: 0,
  /** node name -> RSS samples */
  rss: new Map(),
}
let running = true
let endAt = Date.now() + minutes * 60_000
process.once('SIGINT', () => {
  log('SIGINT: ending the run, settling (again to abort)')
  endAt = Date.now()
  process.once('SIGINT', () => process.exit(130))
})

const devnet = await startDevnet(
  {
    providers: 3,
    cheater: true,
    cheatFraction: CHEAT_FRACTION,
    biddingWindowMs: BIDDING_WINDOW_MS,
    challengeWindowSeconds: CHALLENGE_WINDOW_SECONDS,
    court: { ...defaultDevnetOptions.court, ...COURT_PERIODS },
    blockTimeSeconds: 1,
    nodeLogLevel: 'info',
    // the job market only: no zk circuit, datanet or governance to prepare
    phases: [],
    keep: args.keep,
  },
  { onEvent: (e) => e.type === 'step' && log(`devnet: ${e.message}`) },
)
if (args.keep) log(`devnet dir (kept): ${devnet.dir}`)
const nodes = new DevnetProcesses(devnet)
const client = createPublicClient({ chain: devnet.chain.chain, transport: http(devnet.chain.rpcUrl) })
const { jobMarket, stakeManager, disputeCourt } = devnet.deployment.addresses
const chainStatus = async (id) => (await getJob(client, { jobMarket, jobId: id })).status
const providers = devnet.nodes.filter((n) => n.role === 'provider')
const honestProviders = providers.filter((n) => !n.cheater)
const faultsOf = (name) => (nodes.node(name).cheater ? { fraction: CHEAT_FRACTION } : undefined)
const nameOf = (address) => devnet.nodes.find((n) => n.address.toLowerCase() === address.toLowerCase())?.name

// ---- the workload ---------------------------------------------------------------------------

const workload = await createWorkload(join(devnet.dir, 'soak-workload'), {
  inferenceJobs: 1,
  trainingJob: false,
  samplesPerJob: 64,
  microBatchSize: 8,
})
const spec = workload.jobs[0]
const unsettled = () => [...stats.jobs.values()].filter((j) => j.outcome === undefined)

async function submitLoop() {
  while (running && Date.now() < endAt) {
    if (unsettled().length < maxInFlight) {
      try {
        const { jobId } = await nodes.client('requester').submit({
          modelPath: spec.modelPath,
          inputsPath: spec.inputsPath,
          kind: 'inference',
          verification: 'replay',
          microBatchSize: spec.microBatchSize,
        })
        stats.jobs.set(jobId, { current: jobId, ids: new Set([jobId]), outcome: undefined })
      } catch {
        // the requester is down (chaos): the next round submits
        stats.submitFailures++
      }
    }
    await sleep(jobIntervalMs)
  }
}

/** Follows one job through the requester's re-offers; its outcome once it ended for good. */
async function track(job) {
  const followed = await readFollowingReoffers(nodes.api('requester'), job.current)
  job.current = followed.id
  job.ids.add(followed.id)
  const status = await chainStatus(followed.id)
  const ended =
    ['finalized', 'slashed'].includes(followed.record.state) ||
    (['failed', 'expired'].includes(followed.record.state) && !followed.awaitingReoffer)
  if (ended && (SETTLED_ON_CHAIN.has(status) || status === 'none')) job.outcome = status
}

async function trackLoop() {
  while (running) {
    for (const job of unsettled()) await track(job).catch(() => undefined)
    await sleep(2_000)
  }
}

// ---- chaos ----------------------------------------------------------------------------------

/** The first unsettled job whose on-chain status passes `test`, polled until the timeout. */
async function jobOnChain(test, timeoutMs = TRIGGER_TIMEOUT_MS) {
  const until = Date.now() + timeoutMs
  while (Date.now() < until && running) {
    for (const job of unsettled().slice(-maxInFlight)) {
      const onChain = await getJob(client, { jobMarket, jobId: job.current }).catch(() => undefined)
      if (onChain !== undefined && test(onChain)) return { id: job.current, onChain }
    }
    await sleep(150)
  }
  return undefined
}

async function killAndRestart(names, downMs) {
  for (const name of names) await nodes.kill9(name)
  stats.kills += names.length
  await sleep(downMs)
  // all at once: one node's slow start must not stretch the others' down time
  await Promise.all(names.map((name) => nodes.restart(name, faultsOf(name))))
}

/** The requester, once it holds a bid for a job not yet awarded. */
async function beforeAward(step) {
  const until = Date.now() + TRIGGER_TIMEOUT_MS
  while (Date.now() < until && running) {
    for (const job of unsettled().slice(-maxInFlight)) {
      const bids = await nodes
        .client('requester')
        .bids(job.current)
        .catch(() => [])
      if (bids.length > 0 && (await chainStatus(job.current).catch(() => 'x')) === 'none') {
        await sleep(step.delayMs)
        return killAndRestart(['requester'], step.downMs)
      }
    }
    await sleep(150)
  }
  return 'missed'
}

/** The awarded provider, as soon as the award is on chain. */
async function afterAward(step) {
  const found = await jobOnChain((j) => j.status === 'awarded')
  if (found === undefined) return 'missed'
  await sleep(step.delayMs)
  return killAndRestart([nameOf(found.onChain.provider)], step.downMs)
}

/** The awarded provider, once its record says it runs the job. */
async function duringExecution(step) {
  const found = await jobOnChain((j) => j.status === 'awarded')
  if (found === undefined) return 'missed'
  const provider = nameOf(found.onChain.provider)
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    const local = await nodes.localJob(provider, found.id)
    if (local?.state === 'executing') return killAndRestart([provider], step.downMs)
    if (local !== undefined && !['bidding', 'awarded'].includes(local.state)) break
    await sleep(10)
  }
  return 'missed'
}

/**
 * The honest providers run with the crash plan, so whichever wins the next job dies by its
 * own hand right after sending its commit (the commit lands while it is down); then every
 * one of them runs honest again.
 */
async function commitSent(step) {
  const names = honestProviders.map((n) => n.name)
  /** the crash-plan process of each provider, by name: the first may crash before the last starts */
  const pids = new Map()
  try {
    for (const name of names) {
      await nodes.kill9(name)
      stats.kills++
      pids.set(name, (await nodes.restart(name, { fraction: 0, crashAfterCommitSent: true })).ready.pid)
    }
    const until = Date.now() + TRIGGER_TIMEOUT_MS
    while (![...pids.values()].some(processExited) && Date.now() < until && running) await sleep(100)
    return [...pids.values()].some(processExited) ? undefined : 'missed'
  } finally {
    // every one honest again: the crashed one after its down time, the others killed now; all
    // restarted at once, so the crashed provider is not kept down by the others' slow starts
    await sleep(step.downMs)
    await Promise.all(
      names.map(async (name) => {
        const pid = pids.get(name)
        if (pid !== undefined && !processExited(pid)) await nodes.kill9(name)
        if (pid !== undefined) stats.kills++
        if (!(await isRunning(name))) await nodes.restart(name, faultsOf(name))
      }),
    )
  }
}

/** The verifier, the requester or both, while a commitment's challenge window is open. */
async function disputeWindow(step) {
  const found = await jobOnChain((j) => j.status === 'committed' || j.status === 'challenged')
  if (found === undefined) return 'missed'
  await sleep(step.delayMs)
  return killAndRestart(step.victims, step.downMs)
}

const chaosSteps = {
  'before-award': beforeAward,
  'after-award': afterAward,
  'during-execution': duringExecution,
  'commit-sent': commitSent,
  'dispute-window': disputeWindow,
}

function nextStep() {
  return {
    point: pick(KILL_POINTS),
    delayMs: Math.floor(random() * 500),
    downMs: Math.floor(random() * 5_000),
    victims: pick([['verifier'], ['requester'], ['verifier', 'requester']]),
    waitMs: Math.floor(chaosIntervalMs * (0.5 + random())),
  }
}

async function chaosLoop() {
  // the first jobs run undisturbed: the network has settled in before the first kill
  await sleep(Math.min(chaosIntervalMs, (endAt - Date.now()) / 3))
  while (running && Date.now() < endAt) {
    const step = nextStep()
    try {
      const outcome = await chaosSteps[step.point](step)
      if (outcome === 'missed') stats.missed++
      log(`chaos: ${step.point}${outcome === 'missed' ? ' (point not reached: missed)' : ''}`)
    } catch (error) {
      log(`chaos: ${step.point} failed: ${error instanceof Error ? error.message : String(error)}`)
      // a step cut short may leave its victim down: the run goes on with every node up
      await everyNodeUp().catch((e) => log(`chaos: a restart failed: ${e.message ?? e}`))
    }
    await sleep(Math.max(0, Math.min(step.waitMs, endAt - Date.now())))
  }
}

// ---- the hostile peer -----------------------------------------------------------------------

async function hostileRound(domain, inputHash) {
  const hostile = await hostilePeer.startHostilePeer()
  try {
    const targets = devnet.nodes.map((n) => multiaddr(n.listen[0]))
    for (const target of targets) await hostile.node.dial(target).catch(() => undefined)
    // identify and gossipsub subscriptions need a moment after the dials
    await sleep(2_000)
    const requester = targets[devnet.nodes.findIndex((n) => n.name === 'requester')]
    const held = []
    for (let i = 0; i < 4; i++)
      held.push(
        await hostilePeer.openStalledArtifactRead(hostile, requester, inputHash).catch(() => undefined),
      )
    for (const [i, target] of targets.entries()) {
      const peer = hostile.node.getPeers().find((p) => target.toString().endsWith(p.toString()))
      const protocols =
        peer === undefined ? [] : await hostilePeer.ocnProtocolsOf(hostile, peer).catch(() => [])
      for (const protocol of protocols.slice(0, 3))
        held.push(await hostilePeer.openSilentStream(hostile, target, protocol).catch(() => undefined))
      if (i === 0) await hostilePeer.floodOtherChain(hostile, domain, 40)
    }
    await hostilePeer.floodUnfunded(hostile, domain, 3)
    await hostilePeer.floodMalformed(hostile, domain, 40)
    stats.hostileRounds++
    await sleep(Math.max(0, Math.min(HOSTILE_ROUND_MS - 5_000, endAt - Date.now())))
  } finally {
    await hostile.node.stop().catch(() => undefined)
  }
}

async function hostileLoop() {
  const domain = { chainId: devnet.deployment.chainId, verifyingContract: jobMarket }
  const inputHash = contentHashOf(new Uint8Array(await readFile(spec.inputsPath)))
  while (running && Date.now() < endAt) {
    await hostileRound(domain, inputHash).catch((error) => log(`hostile: ${error.message ?? error}`))
    await sleep(1_000)
  }
}

// ---- memory ---------------------------------------------------------------------------------

async function sampleRss() {
  for (const n of devnet.nodes) {
    const runtime = await readApiRuntimeFile(n.dataDir).catch(() => undefined)
    if (runtime === undefined || processExited(runtime.pid)) continue
    const rssBytes = await readRssBytes(runtime.pid)
    if (rssBytes === undefined) continue
    stats.rss.set(n.name, [
      ...(stats.rss.get(n.name) ?? []),
      { pid: runtime.pid, atMs: Date.now(), rssBytes },
    ])
  }
}

async function rssLoop() {
  while (running) {
    await sampleRss()
    await sleep(RSS_EVERY_MS)
  }
}

/** Each process's first minute (or a sixth of a shorter run) is warm-up, left out of the slope. */
const warmupMs = () => Math.min(60_000, (minutes * 60_000) / 6)

function rssGrowth() {
  return Object.fromEntries(
    devnet.nodes.map((n) => [n.name, rssGrowthMbPerHour(stats.rss.get(n.name) ?? [], warmupMs())]),
  )
}

function progress(started) {
  const all = [...stats.jobs.values()]
  const count = (status) => all.filter((j) => j.outcome === status).length
  const rss = devnet.nodes
    .map((n) => `${n.name} ${Math.round((stats.rss.get(n.name)?.at(-1)?.rssBytes ?? 0) / 2 ** 20)}MB`)
    .join(', ')
  log(
    `[${Math.round((Date.now() - started) / 60_000)} min] jobs ${all.length} submitted, ${count('finalized')} finalized, ` +
      `${count('providerSlashed')} slashed, ${count('expired')} expired, ${unsettled().length} open; ` +
      `kills ${stats.kills} (${stats.missed} points missed), hostile rounds ${stats.hostileRounds}; rss ${rss}`,
  )
}

async function progressLoop(started) {
  while (running) {
    await sleep(60_000)
    if (running) progress(started)
  }
}

// ---- the end --------------------------------------------------------------------------------

/** Whether a daemon runs on the node's data dir now. */
async function isRunning(name) {
  const runtime = await readApiRuntimeFile(nodes.node(name).dataDir).catch(() => undefined)
  return runtime !== undefined && !processExited(runtime.pid)
}

/** Every node up again (a chaos step cut short may have left one down), cheater with its plan. */
async function everyNodeUp() {
  for (const n of devnet.nodes) if (!(await isRunning(n.name))) await nodes.restart(n.name, faultsOf(n.name))
}

async function settle() {
  const until = Date.now() + settleMs
  while (unsettled().length > 0 && Date.now() < until) await sleep(2_000)
  const open = unsettled()
  if (open.length > 0)
    log(`settle: ${open.length} jobs still open: ${open.map((j) => short(j.current)).join(', ')}`)
}

/** Local records not terminal on any node, after up to 2 minutes for them to catch up. */
async function stuckRecords() {
  const openRecords = async () => {
    const open = []
    for (const n of devnet.nodes) {
      const jobs = await nodes.localJobs(n.name).catch(() => [])
      for (const j of jobs.filter((job) => !isSettledRecord(job)))
        open.push(`${n.name}:${short(j.id)}=${j.state}`)
    }
    return open
  }
  const until = Date.now() + 120_000
  let open = await openRecords()
  while (open.length > 0 && Date.now() < until) {
    await sleep(2_000)
    open = await openRecords()
  }
  if (open.length > 0) log(`stuck records: ${open.join(', ')}`)
  return open.length
}

/**
 * StakeManager Slashed events of the honest participants, whoever adjudicated: the providers
 * that run no cheating plan and every verifier (juror or challenger; none runs a fault here).
 * Before this counted providers only, and honest verifiers slashed for challenging a provider
 * that was down through its window (and then served the jurors) went unseen.
 */
async function honestSlashes() {
  const events = await getContractEvents(client, {
    address: stakeManager,
    abi: stakeManagerAbi,
    eventName: 'Slashed',
    fromBlock: 0n,
  })
  const verifiers = devnet.nodes.filter((n) => n.role === 'verifier')
  const honest = new Set([...honestProviders, ...verifiers].map((n) => n.address.toLowerCase()))
  for (const e of events)
    log(`slashed: ${nameOf(e.args.account) ?? e.args.account} ${e.args.amount} wei (block ${e.blockNumber})`)
  return events.filter((e) => honest.has(e.args.account.toLowerCase())).length
}

/**
 * What the honest verifiers paid in concession fees (ChallengeConceded), per verifier, on stderr:
 * the price of withdrawing a good-faith challenge of a provider that came back (not a slash).
 */
async function reportConcessions() {
  if (disputeCourt === undefined) return
  const events = await getContractEvents(client, {
    address: disputeCourt,
    abi: disputeCourtAbi,
    eventName: 'ChallengeConceded',
    fromBlock: 0n,
  })
  const paid = new Map()
  for (const e of events) {
    const who = nameOf(e.args.challenger) ?? e.args.challenger
    const [count, wei] = paid.get(who) ?? [0, 0n]
    paid.set(who, [count + 1, wei + e.args.fee])
  }
  const parts = [...paid].map(([who, [count, wei]]) => `${who} ${count}x ${formatEther(wei)} OPEN`)
  log(`concession fees: ${parts.length === 0 ? 'none' : parts.join(', ')}`)
}

const started = Date.now()
let result
try {
  const loops = [submitLoop(), chaosLoop()]
  const background = [trackLoop(), rssLoop(), progressLoop(started), hostileLoop()]
  await Promise.all(loops)
  log('run over: workload and chaos stopped; settling')
  await everyNodeUp()
  await settle()
  const stuck = await stuckRecords()
  running = false
  await Promise.allSettled(background)
  await sampleRss()
  progress(started)
  const ids = [...stats.jobs.values()].flatMap((j) => [...j.ids])
  const books = await readDevnetBooks(devnet, { jobIds: ids })
  await reportConcessions()
  if (!books.ok) log(`books: ${JSON.stringify(books, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`)
  result = {
    jobs: stats.jobs.size,
    finalized: [...stats.jobs.values()].filter((j) => j.outcome === 'finalized').length,
    honestSlashed: await honestSlashes(),
    stuckRecords: stuck,
    conservationOk: books.ok,
    rssGrowthMbPerHour: rssGrowth(),
  }
} finally {
  running = false
  await nodes.stop()
  await devnet.stop()
}
if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`)
else log(JSON.stringify(result, null, 2))
if (result.honestSlashed !== 0 || result.stuckRecords !== 0 || !result.conservationOk) process.exitCode = 1
