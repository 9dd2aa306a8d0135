/**
 * Issue 13, "floods that cost nothing" and "a stalled reader blocks every new job": hostile
 * peers built only from public libp2p packages (@ocn/cli's devnet/hostile-peer.ts) flood the OCN gossip topics
 * with garbage, oversized, wrongly signed, other-chain, unfunded and replayed messages, and
 * hold stalled streams on every OCN protocol the honest nodes registered, eight of them
 * artifact reads of a 6 MiB file that never read a byte, while a real job runs between real
 * nodes (anvil with the real contracts, ONNX Runtime). The honest job settles; every flooder
 * ends below the graylist threshold on every honest node and is cut off; the stalled readers hold at most
 * their share of upload slots, are cut off, penalised and refused; the validators' caches
 * stay within their bounds.
 */
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { hostilePeer } from '@ocn/cli'
import { p2p, type RequesterRole } from '@ocn/node'
import type { MarketDomain } from '@ocn/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  fundAndStake,
  increaseTime,
  jobIn,
  OPEN,
  removeDir,
  startChain,
  startNodes,
  type TestNode,
  tempDir,
  waitFor,
  writeFixture,
} from './helpers.js'

const {
  floodMalformed,
  floodOtherChain,
  floodUnfunded,
  OFFERS,
  ocnProtocolsOf,
  openSilentStream,
  openStalledArtifactRead,
  startHostilePeer,
} = hostilePeer
type Hostile = hostilePeer.Hostile

const REQUESTER = 1
const PROVIDER = 2
const TREASURY = 9
const MiB = 2 ** 20

describe('hostile peers against honest nodes (public libp2p flooder, anvil, ORT)', () => {
  let dir: string
  let net: Awaited<ReturnType<typeof startChain>>
  let nodes: TestNode[] = []
  let hostiles: { ignorer: Hostile; malformed: Hostile; pauper: Hostile; stallers: Hostile[] }
  let fixture: { modelPath: string; inputsPath: string }
  const node = (name: string) => nodes.find((n) => n.name === name)!
  const networkOf = (name: string): p2p.Network => node(name).components.parts.network!
  const addressOf = (name: string) => multiaddr(node(name).daemon.services.p2p!.listenAddresses()[0]!)
  const all = () => [hostiles.ignorer, hostiles.malformed, hostiles.pauper, ...hostiles.stallers]

  async function counter(name: string, metric: string, labels: Record<string, string>): Promise<number> {
    const found = node(name).daemon.registry.getSingleMetric(metric)
    if (found === undefined) return 0
    const { values } = await found.get()
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
      .reduce((sum, v) => sum + v.value, 0)
  }

  beforeAll(async () => {
    dir = await tempDir()
    net = await startChain({ challengeWindow: 20, treasuryIndex: TREASURY })
    await fundAndStake(net.chain, net.deployment, REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(net.chain, net.deployment, PROVIDER, 200n * OPEN, 100n * OPEN)
    fixture = await writeFixture(dir)
    nodes = await startNodes(net.chain, net.deployment, dir, [
      { name: 'provider', accountIndex: PROVIDER, roles: ['provider'] },
      { name: 'requester', accountIndex: REQUESTER, roles: ['requester'] },
    ])
    hostiles = {
      ignorer: await startHostilePeer(),
      malformed: await startHostilePeer(),
      pauper: await startHostilePeer(),
      stallers: [await startHostilePeer(), await startHostilePeer()],
    }
    for (const hostile of all()) {
      for (const name of ['requester', 'provider']) await hostile.node.dial(addressOf(name))
    }
    // identify has told them the honest nodes' protocols, and gossipsub their subscriptions
    for (const hostile of all()) {
      for (const name of ['requester', 'provider']) {
        const peer = networkOf(name).host.peerId
        await waitFor(`${name}'s protocols and subscriptions`, async () => {
          const protocols = await ocnProtocolsOf(hostile, peer).catch((): string[] => [])
          const subscribed = hostile.node.services.pubsub.getSubscribers(OFFERS).some((p) => p.equals(peer))
          return protocols.includes('/ocn/artifact/1.0.0') && subscribed ? true : undefined
        })
      }
    }
  }, 180_000)

  afterAll(async () => {
    for (const hostile of hostiles === undefined ? [] : all()) {
      try {
        await hostile.node.stop()
      } catch {
        // already stopping
      }
    }
    for (const n of nodes) await n.daemon.stop().catch(() => {})
    await net?.chain.stop()
    await removeDir(dir)
  })

  it('an honest job settles through floods and stalls; flooders are graylisted, stallers cut off, caches bounded', async () => {
    const requesterNet = networkOf('requester')
    // a file large enough that a reader who never reads leaves the upload waiting
    const { hash: big } = await node('requester').components.parts.store!.putBytes(randomBytes(6 * MiB))

    // eight stalled readers (two peers, four streams each: the per-connection stream cap)
    const stalled = await Promise.all(
      hostiles.stallers.flatMap((s) =>
        [0, 1, 2, 3].map(() =>
          openStalledArtifactRead(s, addressOf('requester'), big).catch(() => undefined),
        ),
      ),
    )
    expect(stalled.filter((s) => s !== undefined).length).toBe(8)
    // each staller holds at most its share (2 of 8): four uploads wait, the rest were refused
    await waitFor('the stalled uploads to start', async () =>
      requesterNet.artifacts.uploadUsage().uploads === 4 ? true : undefined,
    )
    expect(requesterNet.artifacts.uploadUsage()).toEqual({ uploads: 4, untrusted: 4, peers: 2 })
    expect(await counter('requester', 'ocn_stream_refusals_total', { reason: 'peer-share' })).toBe(4)

    // silent streams on every OCN protocol of both honest nodes
    const silent: string[] = []
    for (const name of ['requester', 'provider']) {
      for (const protocol of await ocnProtocolsOf(hostiles.malformed, networkOf(name).host.peerId)) {
        const stream = await openSilentStream(hostiles.malformed, addressOf(name), protocol).catch(
          () => undefined,
        )
        if (stream !== undefined) silent.push(`${name} ${protocol}`)
      }
    }
    expect(silent).toEqual(
      expect.arrayContaining([
        'requester /ocn/artifact/1.0.0',
        'requester /ocn/bid/1.0.0',
        'provider /ocn/result/1.0.0',
      ]),
    )

    // floods in the background while the honest job runs
    const domain: MarketDomain = {
      chainId: net.deployment.chainId,
      verifyingContract: net.deployment.addresses.jobMarket,
    }
    const floods = Promise.all([
      floodOtherChain(hostiles.ignorer, domain, 80),
      // a few correctly signed offers for our market from requesters that hold no tokens
      floodUnfunded(hostiles.pauper, domain, 5),
      floodMalformed(hostiles.malformed, domain, 60),
    ])
    const requester = node('requester').components.parts.roles.requester as RequesterRole
    const { jobId } = await requester.submitJob({
      modelPath: fixture.modelPath,
      inputsPath: fixture.inputsPath,
      kind: 'inference',
      verification: 'replay',
    })
    await floods
    await jobIn(node('provider'), jobId, ['committed', 'finalized'])
    await increaseTime(net.chain, 30)
    await jobIn(node('provider'), jobId, ['finalized'])
    const done = await jobIn(node('requester'), jobId, ['finalized'])
    expect((done.detail as { results?: { verified: boolean } }).results?.verified).toBe(true)
    // no copy of a flooded offer became a job: the provider holds the honest one only
    expect((await node('provider').daemon.state.listJobs()).map((j) => j.id)).toEqual([jobId])

    // every flooder is graylisted by every honest node it flooded
    for (const name of ['requester', 'provider']) {
      for (const flooder of [hostiles.ignorer, hostiles.malformed]) {
        await waitFor(`${name} graylisting ${flooder.node.peerId.toString().slice(-6)}`, async () => {
          const score = p2p.peerScore(networkOf(name).host, flooder.node.peerId.toString())
          return score < p2p.scoreThresholds.graylistThreshold ? score : undefined
        })
        // and, graylisted, cut off: its connections closed and refused (p2p/graylist-gate.ts)
        const id = flooder.node.peerId.toString()
        await waitFor(`${name} cutting off ${id.slice(-6)}`, async () =>
          networkOf(name).gate.isBanned(id) ? true : undefined,
        )
      }
    }
    for (const name of ['requester', 'provider']) {
      expect(await counter(name, 'ocn_gossip_ignore_escalations_total', {})).toBeGreaterThan(0)
      // the cut-offs are counted in the daemon's metrics (what /metrics serves)
      expect(await counter(name, 'ocn_p2p_graylist_cutoffs_total', {})).toBeGreaterThanOrEqual(2)
      // correctly signed offers from requesters with no tokens were turned away by the funds check
      expect(
        await counter(name, 'ocn_gossip_validations_total', { reason: 'unfunded-short-balance' }),
      ).toBeGreaterThan(0)
    }

    // the stalled readers were cut off, penalised and are refused now
    await waitFor(
      'the stalled uploads to be cut off',
      async () => (requesterNet.artifacts.uploadUsage().uploads === 0 ? true : undefined),
      60_000,
    )
    expect(
      await counter('requester', 'ocn_stream_stalls_total', { protocol: '/ocn/artifact/1.0.0' }),
    ).toBeGreaterThanOrEqual(4)
    for (const staller of hostiles.stallers) {
      const id = staller.node.peerId.toString()
      expect(requesterNet.penalties.isRefused(id)).toBe(true)
      expect(requesterNet.penalties.appScore(id)).toBeLessThan(0)
    }
    // the silent streams cost the malformed peer too: they stall past the request deadline
    // and it is refused, or, graylisted for its floods first, it was cut off with them
    const malformed = hostiles.malformed.node.peerId.toString()
    await waitFor('the silent streams to be penalised', async () =>
      requesterNet.penalties.isRefused(malformed) || requesterNet.gate.isBanned(malformed) ? true : undefined,
    )

    // memory: every cache within its bound, nothing kept per flooded message beyond it
    for (const name of ['requester', 'provider']) {
      const sizes = networkOf(name).gossip.cacheSizes()
      expect(sizes.seenJobs).toBeLessThanOrEqual(10_000)
      expect(sizes.signatureVerdicts).toBeLessThanOrEqual(4096)
      expect(sizes.requesterFunds).toBeLessThanOrEqual(4096)
      expect(networkOf(name).penalties.sizes().penalised).toBeLessThanOrEqual(4096)
    }
    // a flood of unfunded fresh requesters cost at most its rate-limited share of funds reads
    expect(networkOf('provider').gossip.cacheSizes().requesterFunds).toBeLessThanOrEqual(6)
  }, 300_000)
})
