#!/usr/bin/env node
/**
 * Gossip benchmark: N real libp2p nodes in a sparse topology (a ring plus random chords).
 * Publishes M signed offers and measures the delivery ratio and propagation latency
 * (publish call to validated delivery); then repeats with a fraction of the nodes flooding
 * invalid offers (forged signatures, expired offers, oversized garbage, replays) and reports
 * how many of them ended up graylisted by all their honest neighbours.
 *
 * By default it runs on the testnet (bench-gossip-testnet.mjs; needs root): each node its own
 * process in its own network namespace, links of --link-delay ms one way (default 20-60) and
 * --rate Mbit/s, each spammer an attacker that relays nothing and sends --spam-rate messages/s.
 * `--in-process` keeps the old mode: every node in this one process on 127.0.0.1.
 *
 * Usage: npm run bench:gossip -- [--nodes 50] [--messages 20] [--spammers 0.2] [--chords 2]
 *          [--interval 250] [--warmup 40] [--link-delay 20-60] [--rate 100] [--spam-rate 200]
 *          [--in-process] [--keep] [--json]
 * The measured rounds follow a warm-up round of --warmup offers at the same pace, whose figures
 * are logged and reported under `warmup`: V8 compiles a node's message path only once the node
 * has run it a while, so the first offers after start measure each process's JIT, not the
 * network (docs/network.md, "Scale").
 * The last stdout line is one JSON object with --json.
 *
 * Note: in-process, every node validates every offer (EIP-712 ECDSA recovery, gossip
 * signature) on this process's single event loop, so latency grows with N there in a way it
 * does not on a real network where each node has its own CPU.
 */
import '@ocn/protocol/polyfill'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createIdentityBinding, encodeJobOffer, jobIdOf } from '@ocn/protocol'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createArtifactStore } from '../packages/node/dist/artifacts/index.js'
import { silentLogger } from '../packages/node/dist/core/logger.js'
import { createNetwork, OFFERS_TOPIC, peerScore, scoreThresholds } from '../packages/node/dist/p2p/index.js'
import { benchOffer } from './lib/bench-offers.mjs'

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '50' },
    messages: { type: 'string', default: '20' },
    spammers: { type: 'string', default: '0.2' },
    chords: { type: 'string', default: '2' },
    interval: { type: 'string', default: '250' },
    warmup: { type: 'string', default: '40' },
    'link-delay': { type: 'string', default: '20-60' },
    rate: { type: 'string', default: '100' },
    'spam-rate': { type: 'string', default: '200' },
    'in-process': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})
const N = Number(args.nodes)
const M = Number(args.messages)
const SPAM_FRACTION = Number(args.spammers)
const CHORDS = Number(args.chords)
const INTERVAL_MS = Number(args.interval)
const WARMUP = Number(args.warmup)
if (!Number.isInteger(WARMUP) || WARMUP < 0) {
  console.error(`bench:gossip: --warmup takes a whole number of offers, got ${args.warmup}`)
  process.exit(2)
}
const say = (...line) => {
  if (!args.json) console.log(...line)
  else console.error(...line)
}

let salt = 1n

async function makeNode() {
  const account = privateKeyToAccount(generatePrivateKey())
  const privateKey = await generateKeyPair('Ed25519')
  const binding = await createIdentityBinding(account, privateKey)
  const dir = await mkdtemp(join(tmpdir(), 'ocn-bench-'))
  const store = createArtifactStore({ directory: dir }, { logger: silentLogger })
  await store.start()
  const net = await createNetwork(
    { host: { privateKey, dht: false, gossip: { ipColocationWhitelist: ['127.0.0.1'] } } },
    { logger: silentLogger, store },
  )
  await net.start()
  return { net, account, binding, dir, store, received: new Map() }
}

/** A signed offer of `node` (see scripts/lib/bench-offers.mjs). */
function offerFrom(node, overrides = {}, signer = node.account) {
  return benchOffer({ ...node, peerId: node.net.peerId }, { salt: salt++, overrides, signer })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
async function waitFor(condition, timeoutMs) {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) return false
    await sleep(50)
  }
  return true
}
function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

/** Publishes `count` offers from random honest nodes and measures delivery to honest nodes. */
async function publishRound(honest, count, onTick) {
  const published = new Map() // jobId -> { at, publisher }
  for (let i = 0; i < count; i++) {
    const publisher = honest[Math.floor(Math.random() * honest.length)]
    const offer = await offerFrom(publisher)
    const jobId = jobIdOf(offer.terms)
    published.set(jobId, { at: performance.now(), publisher })
    await publisher.net.gossip.publishOffer(offer)
    await onTick?.()
    await sleep(INTERVAL_MS)
  }
  const expected = () => {
    let got = 0
    for (const [jobId, { publisher }] of published) {
      for (const node of honest) if (node !== publisher && node.received.has(jobId)) got++
    }
    return got
  }
  const total = published.size * (honest.length - 1)
  await waitFor(() => expected() === total, 30_000)
  const latencies = []
  for (const [jobId, { at, publisher }] of published) {
    for (const node of honest) {
      if (node === publisher) continue
      const t = node.received.get(jobId)
      if (t !== undefined) latencies.push(t - at)
    }
  }
  latencies.sort((a, b) => a - b)
  return {
    delivery: expected() / total,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  }
}
const round = (x) => (x === null ? null : Math.round(x * 10) / 10)

async function main() {
  say(`starting ${N} nodes...`)
  const nodes = []
  for (let i = 0; i < N; i++) nodes.push(await makeNode())
  for (const node of nodes) {
    node.net.gossip.onOffer((e) => {
      if (!node.received.has(e.jobId)) node.received.set(e.jobId, performance.now())
    })
  }
  // ring + random chords: every node has a few peers, none has all
  const dial = (a, b) => a.net.host.dial(b.net.host.getMultiaddrs()[0]).catch(() => {})
  for (let i = 0; i < N; i++) {
    await dial(nodes[i], nodes[(i + 1) % N])
    for (let c = 0; c < CHORDS; c++) {
      const j = Math.floor(Math.random() * N)
      if (j !== i) await dial(nodes[i], nodes[j])
    }
  }
  const degrees = nodes.map((n) => n.net.host.getPeers().length)
  say(
    `topology: mean degree ${(degrees.reduce((a, b) => a + b, 0) / N).toFixed(1)}, max ${Math.max(...degrees)}`,
  )
  const mesh = (n) => n.net.host.services.pubsub.getMeshPeers(OFFERS_TOPIC).length
  await waitFor(() => nodes.every((n) => mesh(n) >= 1), 30_000)
  await sleep(3000)

  const warmup = WARMUP > 0 ? await publishRound(nodes, WARMUP) : undefined
  if (warmup)
    say(
      `warm-up (${WARMUP} offers): delivery ${(warmup.delivery * 100).toFixed(2)}%, p50 ${warmup.p50Ms} ms, p99 ${warmup.p99Ms} ms`,
    )
  for (const node of nodes) node.received.clear()
  const clean = await publishRound(nodes, M)
  say(`clean: delivery ${(clean.delivery * 100).toFixed(2)}%, p50 ${clean.p50Ms} ms, p99 ${clean.p99Ms} ms`)

  // flood: a fraction of the nodes turn hostile
  const spammerCount = Math.max(1, Math.round(N * SPAM_FRACTION))
  const shuffled = [...nodes].sort(() => Math.random() - 0.5)
  const spammers = shuffled.slice(0, spammerCount)
  const honest = shuffled.slice(spammerCount)
  for (const node of honest) node.received.clear()
  const liar = privateKeyToAccount(generatePrivateKey())
  // Spam is signed before the measurement: signing is the spammers' CPU, not the
  // network's, and here every node shares one process.
  const ticks = M + 5
  const spamQueue = new Map()
  const now = BigInt(Math.floor(Date.now() / 1000))
  for (const s of spammers) {
    const queue = []
    for (let t = 0; t < ticks; t++) {
      const forged = await offerFrom(s, {}, liar)
      const expired = await offerFrom(s, { biddingEnds: now - 3600n, deadline: now - 60n })
      queue.push([encodeJobOffer(forged), encodeJobOffer(expired), randomBytes(20 * 1024)])
    }
    spamQueue.set(s, queue)
  }
  let spamSent = 0
  const spamTick = async () => {
    for (const s of spammers) {
      const pubsub = s.net.host.services.pubsub
      for (const data of spamQueue.get(s).shift() ?? []) {
        await pubsub.publish(OFFERS_TOPIC, data).catch(() => {})
        spamSent++
      }
    }
  }
  // a spammer's judges are its honest neighbours when the flood starts: the graylist gate
  // hangs up on it once it is graylisted, so afterwards it is no longer their neighbour
  const connected = (h, s) => h.net.host.getPeers().some((p) => p.toString() === s.net.peerId)
  const judgesOf = new Map(spammers.map((s) => [s, honest.filter((h) => connected(h, s))]))
  // a head start for the flood, then honest traffic under continued flooding
  for (let i = 0; i < 5; i++) await spamTick()
  const flood = await publishRound(honest, M, spamTick)
  const graylistedBy = (h, s) =>
    h.net.gate.isBanned(s.net.peerId) ||
    peerScore(h.net.host, s.net.peerId) < scoreThresholds.graylistThreshold
  let graylisted = 0
  for (const s of spammers) {
    const judges = judgesOf.get(s)
    if (judges.length > 0 && judges.every((h) => graylistedBy(h, s))) graylisted++
  }
  say(
    `flood (${spammerCount} spammers, ${spamSent} invalid messages): delivery ${(flood.delivery * 100).toFixed(2)}%, ` +
      `p50 ${flood.p50Ms} ms, p99 ${flood.p99Ms} ms, spammers graylisted by all honest neighbours: ${graylisted}/${spammerCount}`,
  )

  await Promise.all(
    nodes.map(async (n) => {
      await n.net.stop().catch(() => {})
      await rm(n.dir, { recursive: true, force: true })
    }),
  )
  const result = {
    nodes: N,
    messages: M,
    intervalMs: INTERVAL_MS,
    warmup: warmup && {
      messages: WARMUP,
      delivery: warmup.delivery,
      p50Ms: warmup.p50Ms,
      p99Ms: warmup.p99Ms,
    },
    processes: false,
    delivery: clean.delivery,
    p50Ms: clean.p50Ms,
    p99Ms: clean.p99Ms,
    flood: {
      delivery: flood.delivery,
      p50Ms: flood.p50Ms,
      p99Ms: flood.p99Ms,
      spammersGraylisted: graylisted,
      spammers: spammerCount,
      invalidMessages: spamSent,
    },
  }
  if (args.json) console.log(JSON.stringify(result))
  else console.log(result)
}

async function onTestnet() {
  if (process.getuid?.() !== 0) {
    console.error(
      'bench:gossip runs on the testnet by default, which needs root (network namespaces); ' +
        'run it as root, or pass --in-process for the single-process mode',
    )
    process.exit(2)
  }
  const [low, high = low] = args['link-delay'].split('-').map(Number)
  const { runOnTestnet } = await import('./bench-gossip-testnet.mjs')
  const result = await runOnTestnet(
    {
      nodes: N,
      messages: M,
      warmup: WARMUP,
      spamFraction: SPAM_FRACTION,
      chords: CHORDS,
      intervalMs: INTERVAL_MS,
      linkDelayMs: [low, high],
      rateMbit: Number(args.rate),
      spamRate: Number(args['spam-rate']),
      keep: args.keep,
    },
    say,
  )
  if (args.json) console.log(JSON.stringify(result))
  else console.log(result)
}

;(args['in-process'] ? main() : onTestnet()).catch((error) => {
  console.error(error)
  process.exit(1)
})
