/**
 * One operator with many identities tries to capture jobs (issue 13, point 4): ten funded
 * identities with no, tiny and small stakes, behind one libp2p peer of their own (public
 * @ocn/node/p2p and @ocn/protocol parts, no daemon), bid 1 wei and 40% under the honest
 * providers on every job. Before, they won every job and let it die. Now the requester drops
 * the 1-wei bids at once (price floor) and the under-staked ones before ranking (free stake
 * read once per window), so: no job is awarded to an under-staked bidder, no award is even
 * attempted (the requester sent exactly one award per job and none of its transactions reverted), no job dies
 * without a re-offer, honest providers run every job, and the books hold to the wei.
 *
 * A staked stranger can still win (its collateral ranks it, and it risks that collateral):
 * when it then stays silent past its ETA and the grace, the job is re-offered at once without
 * it, an honest provider runs it, and the dead award is expired after its deadline for the
 * refund, the no-show slashed.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import {
  approveToken,
  getJob,
  getTokenBalance,
  jobMarketAbi,
  stake,
  transferToken,
} from '@ocn/contracts-client'
import { createSilentLogger, type JobRecord, type RequesterRole } from '@ocn/node'
import { createBidProtocol, createOcnHost, type OcnHost } from '@ocn/node/p2p'
import {
  type Bid,
  type BidReceipt,
  type BidTerms,
  bidTypedData,
  createIdentityBinding,
  decodeJobOffer,
  type JobOffer,
} from '@ocn/protocol'
import { type Address, type Hex, hexToBytes, parseEther, parseEventLogs, toHex } from 'viem'
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
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
  tokenBalances,
  waitFor,
  walletFor,
  writeFixture,
} from './helpers.js'

const REQUESTER = 1
const HONEST = [2, 3]
const TREASURY = 9
const JOBS = 3
/** the honest providers' price for the 64-sample fixture: their default floor, 1e-4 OPEN a sample */
const HONEST_PRICE = (OPEN / 10_000n) * 64n
/** three without stake, three with 1 wei, four with less than the 1 OPEN collateral a job needs */
const SYBIL_STAKES = [
  0n,
  0n,
  0n,
  1n,
  1n,
  1n,
  parseEther('0.5'),
  parseEther('0.5'),
  parseEther('0.9'),
  parseEther('0.9'),
]

interface Sybil {
  key: Hex
  account: PrivateKeyAccount
  stake: bigint
}

/** The operator's one peer, binding all its identities, sending signed bids over /ocn/bid. */
async function startSybilPeer(sybils: Sybil[], domain: { chainId: number; verifyingContract: Address }) {
  const privateKey = await generateKeyPair('Ed25519')
  const logger = createSilentLogger()
  const host: OcnHost = await createOcnHost(
    { privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, mdns: false },
    { logger },
  )
  const bids = createBidProtocol({}, { host, logger })
  const bindings = await Promise.all(sybils.map((s) => createIdentityBinding(s.account, privateKey)))
  const receipts: Array<{ price: bigint; receipt: BidReceipt }> = []
  return {
    host,
    receipts,
    /** every identity bids 1 wei and 40% under the honest price on the offer (or the prices given) */
    async bidOn(
      offer: JobOffer,
      jobId: Hex,
      lure: { prices?: bigint[]; collateral?: bigint } = {},
    ): Promise<void> {
      const sends = sybils.flatMap((sybil, i) =>
        (lure.prices ?? [1n, (HONEST_PRICE * 6n) / 10n]).map(async (price) => {
          const terms: BidTerms = {
            jobId,
            provider: sybil.account.address,
            price,
            collateral: lure.collateral ?? offer.terms.minCollateral,
            expiry: offer.terms.deadline,
            nonce: BigInt(toHex(crypto.getRandomValues(new Uint8Array(16)))),
            etaSeconds: 1,
          }
          const bid: Bid = {
            version: 1,
            terms,
            signature: await sybil.account.signTypedData(bidTypedData(domain, terms)),
            providerPeerId: host.peerId.toString(),
            providerBinding: bindings[i]!,
          }
          receipts.push({ price, receipt: await bids.sendBid(offer.requesterPeerId, bid) })
        }),
      )
      await Promise.all(sends)
    },
  }
}

describe('Sybil bidders (in-process nodes, anvil, ORT, a foreign bidding peer)', () => {
  let dir: string
  let net: Awaited<ReturnType<typeof startChain>>
  let nodes: TestNode[]
  let fixture: { modelPath: string; inputsPath: string }
  let sybils: Sybil[]
  let peer: Awaited<ReturnType<typeof startSybilPeer>>
  const node = (name: string) => nodes.find((n) => n.name === name)!
  const requester = () => node('requester').components.parts.roles.requester as RequesterRole
  const client = () => net.deployer as unknown as Parameters<typeof getJob>[0]

  beforeAll(async () => {
    dir = await tempDir()
    net = await startChain({ challengeWindow: 5, treasuryIndex: TREASURY })
    await fundAndStake(net.chain, net.deployment, REQUESTER, 100n * OPEN, 0n)
    for (const index of HONEST) await fundAndStake(net.chain, net.deployment, index, 200n * OPEN, 100n * OPEN)
    sybils = SYBIL_STAKES.map((amount) => {
      const key = generatePrivateKey()
      return { key, account: privateKeyToAccount(key), stake: amount }
    })
    for (const sybil of sybils) await fundSybil(sybil)
    fixture = await writeFixture(dir)
    nodes = await startNodes(net.chain, net.deployment, dir, [
      { name: 'honest-a', accountIndex: HONEST[0]!, roles: ['provider'] },
      { name: 'honest-b', accountIndex: HONEST[1]!, roles: ['provider'] },
      {
        name: 'requester',
        accountIndex: REQUESTER,
        roles: ['requester'],
        // long enough for every Sybil bid to arrive on a loaded machine: they must be weighed, not late
        configure: (c) => {
          c.requester.biddingWindowMs = 5_000
        },
      },
    ])
    peer = await startSybilPeer(sybils, {
      chainId: net.deployment.chainId,
      verifyingContract: net.deployment.addresses.jobMarket,
    })
    const requesterAddr = node('requester').daemon.services.p2p!.listenAddresses()[0]!
    await peer.host.dial(multiaddr(requesterAddr))
  }, 180_000)

  afterAll(async () => {
    await peer?.host.stop()
    for (const n of nodes ?? []) await n.daemon.stop().catch(() => {})
    await net?.chain.stop()
    await removeDir(dir)
  })

  /** Gas money, 10 OPEN, and the identity's stake. */
  async function fundSybil(sybil: Sybil): Promise<void> {
    const address = sybil.account.address
    await net.deployer.request({
      method: 'anvil_setBalance',
      params: [address, toHex(parseEther('10'))],
    } as never)
    await transferToken(net.deployer, {
      token: net.deployment.addresses.token,
      to: address,
      amount: 10n * OPEN,
    })
    if (sybil.stake === 0n) return
    const wallet = walletFor(net.chain, sybil.key)
    await approveToken(wallet, {
      token: net.deployment.addresses.token,
      spender: net.deployment.addresses.stakeManager,
      amount: sybil.stake,
    })
    await stake(wallet, { stakeManager: net.deployment.addresses.stakeManager, amount: sybil.stake })
  }

  /** Every transaction `from` sent since `firstBlock`, with its receipt's status. */
  async function transactionsFrom(from: Address, firstBlock: bigint) {
    const last = await net.deployer.getBlockNumber()
    const out: Array<{ hash: Hex; to: string | undefined; status: string; jobsAwarded: number }> = []
    for (let n = firstBlock; n <= last; n++) {
      const block = await net.deployer.getBlock({ blockNumber: n, includeTransactions: true })
      for (const tx of block.transactions) {
        if (tx.from.toLowerCase() !== from.toLowerCase()) continue
        const receipt = await net.deployer.getTransactionReceipt({ hash: tx.hash })
        // an award names one job, an awardBatch several: each logs a JobAwarded per job
        const jobsAwarded = parseEventLogs({
          abi: jobMarketAbi,
          logs: receipt.logs,
          eventName: 'JobAwarded',
        }).length
        out.push({ hash: tx.hash, to: tx.to?.toLowerCase(), status: receipt.status, jobsAwarded })
      }
    }
    return out
  }

  /** The job as it ends, following the requester's re-offers. */
  async function settled(jobId: string): Promise<JobRecord[]> {
    const chain: JobRecord[] = []
    let id: string | undefined = jobId
    while (id !== undefined) {
      const current: string = id
      const record = await waitFor(
        `job ${current.slice(0, 10)} finalized or re-offered`,
        async () => {
          const job = await node('requester').daemon.state.getJob(current)
          const next = (job?.detail as { reofferedAs?: string } | undefined)?.reofferedAs
          return job !== undefined && (job.state === 'finalized' || next !== undefined) ? job : undefined
        },
        120_000,
      )
      chain.push(record)
      id = (record.detail as { reofferedAs?: string }).reofferedAs
    }
    return chain
  }

  it('no job goes to an under-staked bidder, none dies unoffered, honest providers run all, to the wei', async () => {
    const requesterAddress = node('requester').address
    const honest = HONEST.map((i) => net.chain.accounts[i]!.address.toLowerCase())
    const everyone = [requesterAddress, ...nodes.filter((n) => n.name !== 'requester').map((n) => n.address)]
    const watched = [...everyone, ...sybils.map((s) => s.account.address)] as Address[]
    const before = await tokenBalances(net.chain, net.deployment, watched)
    const marketBefore = await getTokenBalance(client(), {
      token: net.deployment.addresses.token,
      account: net.deployment.addresses.jobMarket,
    })
    const firstBlock = (await net.deployer.getBlockNumber()) + 1n

    const submitted: string[] = []
    for (let j = 0; j < JOBS; j++) {
      const { jobId } = await requester().submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
      const record = await node('requester').daemon.state.requireJob(jobId)
      const offer = decodeJobOffer(hexToBytes((record.detail as { offer: Hex }).offer))
      await peer.bidOn(offer, jobId as Hex)
      submitted.push(jobId)
    }
    const chains = await Promise.all(submitted.map(settled))

    // the 1-wei lures are refused on arrival; the 40%-under bids are taken and dropped unawarded
    expect(peer.receipts).toHaveLength(JOBS * sybils.length * 2)
    const outcomes = peer.receipts.map(({ price, receipt }) =>
      price === 1n
        ? `lure ${receipt.reason}`
        : receipt.accepted
          ? 'undercut taken'
          : `undercut ${receipt.reason}`,
    )
    expect(new Set(outcomes)).toEqual(new Set(['lure invalid-bid', 'undercut taken']))

    // every job ends finalized with an honest provider; a job that died was re-offered
    const jobs = await node('requester').daemon.state.listJobs({ role: 'requester' })
    for (const job of jobs) {
      const next = (job.detail as { reofferedAs?: string }).reofferedAs
      expect(job.state === 'finalized' || next !== undefined, `${job.id} ${job.state}`).toBe(true)
    }
    const finals = chains.map((c) => c.at(-1)!)
    for (const job of finals) {
      expect(job.state).toBe('finalized')
      expect(honest).toContain(job.provider!.toLowerCase())
    }
    // awards on chain: only honest providers; and every market transaction of the requester
    // was an award (alone or batched), together awarding each awarded job once, and no
    // transaction of it reverted, so no award to a Sybil was ever attempted
    let awarded = 0
    for (const job of jobs) {
      const onChain = await getJob(client(), {
        jobMarket: net.deployment.addresses.jobMarket,
        jobId: job.id as Hex,
      })
      if (onChain.status === 'none') continue
      awarded++
      expect(honest).toContain(onChain.provider.toLowerCase())
    }
    const sent = await transactionsFrom(requesterAddress, firstBlock)
    const awards = sent.filter((tx) => tx.to === net.deployment.addresses.jobMarket.toLowerCase())
    for (const tx of awards) expect(tx.jobsAwarded, `requester tx ${tx.hash} awards`).toBeGreaterThan(0)
    expect(awards.reduce((n, tx) => n + tx.jobsAwarded, 0)).toBe(awarded)
    for (const tx of sent) expect(tx.status, `requester tx ${tx.hash}`).toBe('success')
    for (const job of jobs) {
      const bids = await node('requester').daemon.state.listBids(job.id)
      for (const bid of bids) {
        if (!honest.includes(bid.provider.toLowerCase())) expect(bid.status).toBe('rejected')
      }
    }

    // money to the wei: the requester paid exactly the finalized prices, all of it went to the
    // honest providers and the market (its fee); the Sybils' tokens and stakes did not move
    await waitFor('collateral unlocked', async () => {
      const b = await tokenBalances(net.chain, net.deployment, watched)
      return Object.values(b).every((x) => x.locked === 0n) ? true : undefined
    })
    const after = await tokenBalances(net.chain, net.deployment, watched)
    const marketAfter = await getTokenBalance(client(), {
      token: net.deployment.addresses.token,
      account: net.deployment.addresses.jobMarket,
    })
    const paid = finals.reduce((sum, j) => sum + j.price!, 0n)
    expect(before[requesterAddress]!.token - after[requesterAddress]!.token).toBe(paid)
    const honestGain = nodes
      .filter((n) => n.name !== 'requester')
      .reduce((sum, n) => sum + after[n.address]!.token - before[n.address]!.token, 0n)
    expect(honestGain + (marketAfter - marketBefore)).toBe(paid)
    for (const sybil of sybils) {
      expect(after[sybil.account.address]).toEqual(before[sybil.account.address])
      expect(after[sybil.account.address]!.staked).toBe(sybil.stake)
    }
    for (const job of finals) await jobIn(node('requester'), job.id, ['finalized'])
  }, 300_000)

  it('a staked stranger that wins and never runs is re-offered at once without it; its award expires for the refund', async () => {
    // a requester that judges no-shows quickly; the Sybil's collateral (5× the minimum) buys it
    // the rank of a proven provider, so it wins the first round and then stays silent
    const [nsRequester] = await startNodes(
      net.chain,
      net.deployment,
      dir,
      [
        {
          name: 'requester-ns',
          accountIndex: 4,
          roles: ['requester'],
          configure: (c) => {
            c.requester.biddingWindowMs = 5_000
            c.requester.noShowGraceMs = 8_000
          },
        },
      ],
      nodes,
    )
    nodes.push(nsRequester!)
    await fundAndStake(net.chain, net.deployment, 4, 100n * OPEN, 0n)
    const key = generatePrivateKey()
    const staked: Sybil = { key, account: privateKeyToAccount(key), stake: 8n * OPEN }
    await fundSybil(staked)
    const lone = await startSybilPeer([staked], {
      chainId: net.deployment.chainId,
      verifyingContract: net.deployment.addresses.jobMarket,
    })
    try {
      await lone.host.dial(multiaddr(nsRequester!.daemon.services.p2p!.listenAddresses()[0]!))
      const honestNodes = nodes.filter((n) => n.name.startsWith('honest'))
      const stakeManager = net.deployment.addresses.stakeManager
      const watched = [nsRequester!.address, ...honestNodes.map((n) => n.address), staked.account.address]
      const tokenOf = (account: Address) =>
        getTokenBalance(client(), { token: net.deployment.addresses.token, account })
      const before = await tokenBalances(net.chain, net.deployment, watched)
      const [marketBefore, stakeBefore] = await Promise.all([
        tokenOf(net.deployment.addresses.jobMarket),
        tokenOf(stakeManager),
      ])
      const role = nsRequester!.components.parts.roles.requester as RequesterRole
      const { jobId } = await role.submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
      const record = await nsRequester!.daemon.state.requireJob(jobId)
      const offer = decodeJobOffer(hexToBytes((record.detail as { offer: Hex }).offer))
      await lone.bidOn(offer, jobId as Hex, { prices: [(HONEST_PRICE * 6n) / 10n], collateral: 5n * OPEN })
      const lost = await jobIn(nsRequester!, jobId, ['awarded'])
      expect(lost.provider?.toLowerCase()).toBe(staked.account.address.toLowerCase())

      // silent past ETA + grace: re-offered long before the deadline, without the no-show
      const dead = await waitFor('the no-show re-offered', async () => {
        const j = await nsRequester!.daemon.state.getJob(jobId)
        return (j?.detail as { reofferedAs?: string } | undefined)?.reofferedAs === undefined ? undefined : j
      })
      expect(dead.state).toBe('awarded')
      const nextId = (dead.detail as { reofferedAs: string }).reofferedAs
      const second = await nsRequester!.daemon.state.requireJob(nextId)
      expect((second.detail as { excludedProviders?: string[] }).excludedProviders).toEqual([
        staked.account.address.toLowerCase(),
      ])
      const nextOffer = decodeJobOffer(hexToBytes((second.detail as { offer: Hex }).offer))
      await lone.bidOn(nextOffer, nextId as Hex, {
        prices: [(HONEST_PRICE * 6n) / 10n],
        collateral: 5n * OPEN,
      })
      expect(lone.receipts.at(-1)?.receipt.reason).toBe('invalid-bid')
      const next = (await settledOn(nsRequester!, nextId)).at(-1)
      expect(next!.state).toBe('finalized')
      expect(honestNodes.map((n) => n.address.toLowerCase())).toContain(next!.provider!.toLowerCase())

      // past the old deadline the requester expires the dead award: its escrow comes back, the
      // no-show is slashed, and the expired job is not offered a second time
      await increaseTime(net.chain, 400)
      const expired = await jobIn(nsRequester!, jobId, ['expired'])
      expect((expired.detail as { reofferedAs?: string }).reofferedAs).toBe(next!.id)
      await new Promise((r) => setTimeout(r, 1_500))
      const offered = await nsRequester!.daemon.state.listJobs({ role: 'requester' })
      expect(
        offered.filter((j) => j.attempts > 1 && (j.detail as { reofferOf?: string }).reofferOf === jobId),
      ).toHaveLength(1)

      const after = await tokenBalances(net.chain, net.deployment, watched)
      const [marketAfter, stakeAfter] = await Promise.all([
        tokenOf(net.deployment.addresses.jobMarket),
        tokenOf(stakeManager),
      ])
      const delta = (a: Address) => after[a]!.token - before[a]!.token
      expect(-delta(nsRequester!.address)).toBe(next!.price!)
      const honestGain = honestNodes.reduce((sum, n) => sum + delta(n.address), 0n)
      const penalty = before[staked.account.address]!.staked - after[staked.account.address]!.staked
      expect(penalty).toBe((5n * OPEN * 2_000n) / 10_000n)
      expect(stakeBefore - stakeAfter).toBe(penalty)
      expect(honestGain + (marketAfter - marketBefore)).toBe(next!.price! + penalty)
      expect(delta(staked.account.address)).toBe(0n)
      for (const a of watched) expect(after[a]!.locked).toBe(0n)
    } finally {
      await lone.host.stop()
    }
  }, 300_000)

  /** The job and the jobs it was re-offered as, until one is finalized. */
  async function settledOn(requesterNode: TestNode, jobId: string): Promise<JobRecord[]> {
    const out: JobRecord[] = []
    let id: string | undefined = jobId
    while (id !== undefined) {
      const current: string = id
      const job = await waitFor(
        `job ${current.slice(0, 10)} finalized or re-offered`,
        async () => {
          const j = await requesterNode.daemon.state.getJob(current)
          const linked = (j?.detail as { reofferedAs?: string } | undefined)?.reofferedAs
          return j !== undefined && (j.state === 'finalized' || linked !== undefined) ? j : undefined
        },
        120_000,
      )
      out.push(job)
      id = (job.detail as { reofferedAs?: string }).reofferedAs
    }
    return out
  }
})
