#!/usr/bin/env node
/**
 * One node of the gossip benchmark on the testnet (bench-gossip.mjs): a real libp2p host with
 * OCN's gossip validation, in its own process and network namespace. It is driven by JSON
 * lines on stdin and answers with JSON lines on stdout:
 *   {cmd:'dial', addrs}            dial peers                    -> {dialed, peers}
 *   {cmd:'mesh'}                                                  -> {mesh, peers}
 *   {cmd:'publish', id}            sign and publish a fresh offer -> {published, id, jobId, at}
 *   {cmd:'spam', ratePerSecond, ms}  turn attacker: relay nothing, flood forged, expired,
 *                                  oversized and replayed offers
 *                                                                 -> {spammed, sent}
 *   {cmd:'scores', peers, honest}  gossipsub scores of the peers, which of `honest` this
 *                                  node's graylist gate cut off, its peers and link closes
 *                                  -> {scores, graylistedAt, cutOffHonest, peers, closedAt, ...}
 * and on every validated offer: {received, jobId, at, via} (via: the peer it came from; such
 * lines are batched, one write per 50 ms at most).
 * Times are wall-clock milliseconds (performance.timeOrigin + performance.now()), comparable
 * across processes on one machine.
 * Not part of `npm test`; exits when stdin closes.
 */
import '@ocn/protocol/polyfill'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createIdentityBinding, encodeJobOffer, jobIdOf } from '@ocn/protocol'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createArtifactStore } from '../packages/node/dist/artifacts/index.js'
import { silentLogger } from '../packages/node/dist/core/logger.js'
import { createNetwork, OFFERS_TOPIC, peerScore, scoreThresholds } from '../packages/node/dist/p2p/index.js'
import { BENCH_DOMAIN, benchOffer } from './lib/bench-offers.mjs'

const { values: args } = parseArgs({
  options: { listen: { type: 'string' }, announce: { type: 'string' } },
})
const now = () => performance.timeOrigin + performance.now()
const send = (line) => process.stdout.write(`${JSON.stringify(line)}\n`)
let salt = BigInt(process.pid) << 32n

const account = privateKeyToAccount(generatePrivateKey())
const liar = privateKeyToAccount(generatePrivateKey())
const privateKey = await generateKeyPair('Ed25519')
const binding = await createIdentityBinding(account, privateKey)
const dir = await mkdtemp(join(tmpdir(), 'ocn-bench-worker-'))
const store = createArtifactStore({ directory: dir }, { logger: silentLogger })
await store.start()
const net = await createNetwork(
  {
    host: {
      privateKey,
      dht: false,
      // connection set-up (Noise over 20-60 ms links) on a loaded 2-core machine can take
      // longer than the daemon's 10 s; the benchmark measures gossip, not dialling
      dialTimeoutMs: 30_000,
      listen: [args.listen],
      announce: [args.announce],
      gossip: { chainId: BENCH_DOMAIN.chainId, market: BENCH_DOMAIN.verifyingContract },
    },
  },
  { logger: silentLogger, store },
)
await net.start()
const pubsub = net.host.services.pubsub

/** A signed offer of this node (see scripts/lib/bench-offers.mjs). */
function offer(overrides = {}, signer = account) {
  return benchOffer({ account, binding, peerId: net.peerId }, { salt: salt++, overrides, signer })
}

// honest offers seen (their payloads, for the attacker's replays) and when each arrived
const seenPayloads = []
// the peer each offer came from: gossipsub emits 'gossipsub:message' (which names it) and
// then 'message' (which the gossip service turns into the offer) for the same message
let via
// Reported in batches (one write per 50 ms at most): a pipe write per delivery woke the
// harness 600 times a 60-node round, load that is the benchmark's, not gossip's. `at` is
// taken on arrival, so batching does not move the figures.
let arrivals = []
net.gossip.onOffer((e) => {
  if (arrivals.length === 0)
    setTimeout(() => {
      process.stdout.write(arrivals.map((line) => `${JSON.stringify(line)}\n`).join(''))
      arrivals = []
    }, 50)
  arrivals.push({ received: true, jobId: e.jobId, at: now(), via })
})
pubsub.addEventListener('gossipsub:message', (e) => {
  via = e.detail.propagationSource.toString()
  if (e.detail.msg.topic === OFFERS_TOPIC && seenPayloads.length < 64) seenPayloads.push(e.detail.msg.data)
})

// when the last connection to each peer closed (to tell an eclipse by lost links from one by
// the topology)
const closedAt = {}
net.host.addEventListener('connection:close', (e) => {
  closedAt[e.detail.remotePeer.toString()] = now()
})

/**
 * Of each watched peer: whether it was ever a neighbour (connected) since the watch began,
 * its lowest score, and when that first fell below the graylist threshold.
 */
const graylistedAt = {}
const neighbours = {}
const minScores = {}
let watched = []
/**
 * Started by the first `watch` (the flood round), not at start-up: ten wake-ups a second in
 * each of 60 idle processes were a fifth of an idle testnet's CPU (`--cpu-prof` of an idle
 * worker), load the clean round would otherwise measure as gossip's.
 */
let watching = false
function watch(peers) {
  watched = peers
  if (watching) return
  watching = true
  setInterval(() => {
    const connected = new Set(net.host.getPeers().map(String))
    for (const peer of watched) {
      if (connected.has(peer)) neighbours[peer] = true
      const score = peerScore(net.host, peer)
      minScores[peer] = Math.min(minScores[peer] ?? 0, score)
      if (graylistedAt[peer] === undefined && score < scoreThresholds.graylistThreshold)
        graylistedAt[peer] = now()
    }
  }, 100).unref()
}

/**
 * The attacker: relays nothing (every message it receives is 'ignore'd, so not forwarded) and
 * publishes a mix of forged, expired, oversized and replayed offers at `ratePerSecond`.
 */
async function spam({ ratePerSecond, ms }) {
  pubsub.topicValidators.set(OFFERS_TOPIC, () => 'ignore')
  const t = BigInt(Math.floor(Date.now() / 1000))
  // Signed once; each copy gets a fresh salt after signing, so it is a new offer (new id, no
  // cache hit) whose signature no longer matches: every forged copy costs its receivers an
  // ECDSA recovery, and the attacker nothing.
  const forged = await offer({}, liar)
  const expired = await offer({ biddingEnds: t - 3600n, deadline: t - 60n })
  const variant = (base) => encodeJobOffer({ ...base, terms: { ...base.terms, salt: salt++ } })
  let replayed = 0
  let sent = 0
  const start = now()
  const end = start + ms
  const next = () => {
    const kind = sent % 4
    if (kind === 0) return variant(forged)
    if (kind === 1) return variant(expired)
    if (kind === 2) return randomBytes(20 * 1024)
    // an honest offer, byte for byte, published as the attacker's own
    if (replayed < seenPayloads.length) return seenPayloads[replayed++]
    return variant(forged)
  }
  while (now() < end) {
    // catch up with the schedule (rate x time so far) whenever the loop was held up
    const due = Math.floor(((now() - start) / 1000) * ratePerSecond)
    for (let i = 0; sent < due && i < ratePerSecond; i++) {
      pubsub.publish(OFFERS_TOPIC, next()).catch(() => {})
      sent++
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return sent
}

async function handle(message) {
  if (message.cmd === 'dial') {
    // one at a time: a burst of handshakes on a starved core times them all out together
    const errors = []
    for (const a of message.addrs) {
      await net.host
        .dial(multiaddr(a), { signal: AbortSignal.timeout(30_000) })
        .catch((error) => errors.push({ addr: a, message: error.message }))
    }
    send({ dialed: true, peers: net.host.getPeers().length, errors })
  } else if (message.cmd === 'mesh') {
    send({ mesh: pubsub.getMeshPeers(OFFERS_TOPIC).length, peers: net.host.getPeers().map(String) })
  } else if (message.cmd === 'publish') {
    const o = await offer()
    const at = now()
    await net.gossip.publishOffer(o)
    send({ published: true, id: message.id, jobId: jobIdOf(o.terms), at })
  } else if (message.cmd === 'spam') {
    send({ spammed: true, sent: await spam(message) })
  } else if (message.cmd === 'watch') {
    watch(message.peers)
    send({ watching: true })
  } else if (message.cmd === 'scores') {
    const scores = Object.fromEntries(message.peers.map((p) => [p, peerScore(net.host, p)]))
    // honest peers this node's graylist gate has cut off: each one a false positive
    const cutOffHonest = (message.honest ?? []).filter((p) => net.gate.isBanned(p))
    send({
      scores,
      graylistedAt,
      neighbours,
      minScores,
      peers: net.host.getPeers().map(String),
      cutOffHonest,
      closedAt,
    })
  }
}

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  handle(JSON.parse(line)).catch((error) => send({ error: String(error) }))
})
lines.on('close', async () => {
  await net.stop().catch(() => undefined)
  await rm(dir, { recursive: true, force: true })
  process.exit(0)
})
send({ ready: true, peerId: net.peerId, pid: process.pid })
