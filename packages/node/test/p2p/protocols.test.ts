/** Bid and result request-response protocols between real nodes on 127.0.0.1. */
import {
  type Bid,
  type BidTerms,
  bidTypedData,
  encodeMessage,
  jobIdOf,
  MerkleTree,
  type ResultResponse,
} from '@ocn/protocol'
import { keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BID_PROTOCOL,
  P2PError,
  P2PErrorCode,
  packTokenBatches,
  TOKEN_PROTOCOL,
} from '../../src/p2p/index.js'
import {
  connect,
  domain,
  type Identity,
  makeIdentity,
  signedOffer,
  startNode,
  stopNodes,
  type TestNode,
  waitFor,
} from './helpers.js'

let requester: TestNode
let provider: TestNode
const bidsSeen: Bid[] = []

async function signedBid(
  from: Identity,
  jobId: `0x${string}`,
  overrides: Partial<BidTerms> = {},
): Promise<Bid> {
  const terms: BidTerms = {
    jobId,
    provider: from.account.address,
    price: 10n ** 17n,
    collateral: 10n ** 17n,
    expiry: BigInt(Math.floor(Date.now() / 1000) + 600),
    nonce: 1n,
    etaSeconds: 60,
    ...overrides,
  }
  return {
    version: 1,
    terms,
    signature: await from.account.signTypedData(bidTypedData(domain, terms)),
    providerPeerId: from.peerId,
    providerBinding: from.binding,
  }
}

beforeAll(async () => {
  requester = await startNode({
    bids: {
      domain,
      onBid: async (bid) => {
        bidsSeen.push(bid)
        return bid.terms.price > 10n ** 18n
          ? { accepted: false, reason: 'price-too-high' }
          : { accepted: true }
      },
    },
  })
  provider = await startNode()
  await connect(provider, requester)
})

afterAll(async () => {
  await stopNodes([requester, provider])
})

describe('bid protocol', () => {
  it('delivers an authentic bid to the requester logic and returns its receipt', async () => {
    const offer = await signedOffer(requester.identity)
    const jobId = jobIdOf(offer.terms)
    const receipt = await provider.bids.sendBid(requester.peerId, await signedBid(provider.identity, jobId))
    expect(receipt).toEqual({ version: 1, jobId, accepted: true })
    expect(bidsSeen.at(-1)?.terms.jobId).toBe(jobId)
    const expensive = await provider.bids.sendBid(
      requester.peerId,
      await signedBid(provider.identity, jobId, { price: 10n ** 19n }),
    )
    expect(expensive).toMatchObject({ accepted: false, reason: 'price-too-high' })
  })

  it('refuses forged signatures, foreign bindings and bids naming another peer before the market sees them', async () => {
    const jobId = jobIdOf((await signedOffer(requester.identity)).terms)
    const before = bidsSeen.length
    const stranger = await makeIdentity()
    const good = await signedBid(provider.identity, jobId)
    // signed by someone else's key
    const forgedSig = { ...good, signature: (await signedBid(stranger, jobId)).signature }
    expect(await provider.bids.sendBid(requester.peerId, forgedSig)).toMatchObject({
      accepted: false,
      reason: 'invalid-signature',
    })
    // a valid binding, but of another peer: the stream's peer must be the one in the bid
    const otherPeer = await signedBid(stranger, jobId)
    expect(await provider.bids.sendBid(requester.peerId, otherPeer)).toMatchObject({
      accepted: false,
      reason: 'invalid-binding',
    })
    // our peer id with someone else's binding
    const mixed = { ...good, providerBinding: stranger.binding }
    expect(await provider.bids.sendBid(requester.peerId, mixed)).toMatchObject({
      accepted: false,
      reason: 'invalid-binding',
    })
    expect(bidsSeen.length).toBe(before)
  })

  it('a peer without a bid handler answers unknown-job; an oversized frame is refused', async () => {
    const jobId = jobIdOf((await signedOffer(requester.identity)).terms)
    expect(
      await requester.bids.sendBid(provider.peerId, await signedBid(requester.identity, jobId)),
    ).toMatchObject({
      accepted: false,
      reason: 'unknown-job',
    })
    // a raw stream sending a frame far above the bid limit is cut off by the length prefix check
    const stream = await provider.host.dialProtocol(requester.host.peerId, BID_PROTOCOL)
    const { lpStream } = await import('@libp2p/utils')
    const lp = lpStream(stream, { maxDataLength: 1 << 20 })
    await lp.write(new Uint8Array(64 * 1024)).catch(() => {})
    // the receiver resets the stream at the length prefix (P2PError TOO_LARGE on its side): the
    // reader sees that reset, not its own timeout firing
    const started = Date.now()
    await expect(lp.read({ signal: AbortSignal.timeout(5000) })).rejects.toMatchObject({
      name: 'StreamResetError',
    })
    expect(Date.now() - started).toBeLessThan(5000)
    expect(encodeMessage('bidReceipt', { version: 1, jobId, accepted: true }).length).toBeLessThan(512)
  })
})

describe('result protocol', () => {
  const dataHashes = Array.from({ length: 11 }, (_, i) => keccak256(toHex(`output ${i}`)))
  const tree = MerkleTree.fromDataHashes(dataHashes)
  const jobId = keccak256(toHex('job'))

  it('returns leaves with proofs that verify against the root', async () => {
    provider.results.setResultHandler(async (req) => ({
      version: 1,
      jobId: req.jobId,
      status: 'ok',
      result: {
        resultRoot: tree.root,
        leafCount: dataHashes.length,
        outputHash: jobId,
        leaves: req.indices.map((index) => ({
          index,
          dataHash: dataHashes[index]!,
          proof: tree.proof(index),
        })),
      },
    }))
    const response = await requester.results.requestResult(provider.peerId, {
      version: 1,
      jobId,
      indices: [0, 7, 10],
    })
    expect(response.result?.resultRoot).toBe(tree.root)
    expect(response.result?.leaves.map((l) => l.index)).toEqual([0, 7, 10])
  })

  it('rejects a provider whose leaves do not match its root', async () => {
    provider.results.setResultHandler(
      async (req): Promise<ResultResponse> => ({
        version: 1,
        jobId: req.jobId,
        status: 'ok',
        result: {
          resultRoot: tree.root,
          leafCount: dataHashes.length,
          outputHash: jobId,
          // right proof, wrong data
          leaves: [{ index: 3, dataHash: dataHashes[4]!, proof: tree.proof(3) }],
        },
      }),
    )
    const error = await requester.results
      .requestResult(provider.peerId, { version: 1, jobId, indices: [3] })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(P2PError)
    expect((error as P2PError).code).toBe(P2PErrorCode.PROTOCOL_VIOLATION)
  })

  it('answers not-found without a handler', async () => {
    provider.results.setResultHandler(undefined)
    const response = await requester.results.requestResult(provider.peerId, {
      version: 1,
      jobId,
      indices: [1],
    })
    expect(response.status).toBe('not-found')
  })

  it('delivers a result notice only from the provider it names', async () => {
    const notices: string[] = []
    requester.results.setResultNoticeHandler((notice, { remotePeer }) => {
      notices.push(`${notice.jobId}|${remotePeer}`)
    })
    const notice = {
      version: 1 as const,
      jobId,
      providerPeerId: provider.peerId,
      resultRoot: tree.root,
      leafCount: dataHashes.length,
      outputHash: jobId,
    }
    await provider.results.sendResultNotice(requester.peerId, notice)
    await waitFor(() => notices.length === 1, 5000, 'result notice')
    expect(notices[0]).toBe(`${jobId}|${provider.peerId}`)
    // a notice naming another provider than the sending peer is refused
    await provider.results
      .sendResultNotice(requester.peerId, { ...notice, providerPeerId: requester.peerId })
      .catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(notices).toHaveLength(1)
  })
})

describe('token stream protocol', () => {
  it('hands each batch to the handler with its authenticated sender; an oversized frame is cut off at its length prefix', async () => {
    const seen: string[] = []
    requester.tokens.setTokenHandler((batch, { remotePeer }) => {
      seen.push(
        `${batch.runs.map((r) => `${r.prompt}:${r.from}:${r.tokens.join(',')}`).join('|')}@${remotePeer}`,
      )
    })
    const jobId = `0x${'cd'.repeat(32)}` as const
    const runs = [
      { prompt: 1, from: 4, tokens: [7, 8, 9] },
      { prompt: 0, from: 0, tokens: [3] },
    ]
    for (const batch of packTokenBatches(jobId, runs))
      await provider.tokens.sendTokens(requester.peerId, batch)
    await waitFor(() => seen.length === 1, 5000, 'token batch')
    expect(seen[0]).toBe(`1:4:7,8,9|0:0:3@${provider.peerId}`)
    const stream = await provider.host.dialProtocol(requester.host.peerId, TOKEN_PROTOCOL)
    const { lpStream } = await import('@libp2p/utils')
    const lp = lpStream(stream, { maxDataLength: 1 << 20 })
    await lp.write(new Uint8Array(9 * 1024)).catch(() => {})
    await expect(lp.read({ signal: AbortSignal.timeout(5000) })).rejects.toMatchObject({
      name: 'StreamResetError',
    })
    expect(seen).toHaveLength(1)
    requester.tokens.setTokenHandler(undefined)
  })
})
