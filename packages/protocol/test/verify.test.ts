import { beforeAll, describe, expect, it } from 'vitest'
import {
  assertBidAuthentic,
  assertCapabilityAdAuthentic,
  assertJobOfferAuthentic,
  assertResultLeaves,
  jobIdOf,
  MerkleTree,
  offerTiming,
  ProtocolError,
  ProtocolErrorCode,
  type ResultResponse,
} from '../src/index.js'
import { domain, type Identity, makeAd, makeBid, makeIdentity, makeOffer } from './fixtures.js'

let requester: Identity
let provider: Identity
let other: Identity

beforeAll(async () => {
  requester = await makeIdentity('requester')
  provider = await makeIdentity('provider')
  other = await makeIdentity('other')
})

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ProtocolError)
  expect((error as ProtocolError).code).toBe(code)
}

describe('message authenticity', () => {
  it('accepts a well-formed offer and rejects any altered signed field', async () => {
    const offer = await makeOffer(requester)
    await assertJobOfferAuthentic(offer)
    const altered = [
      { ...offer, terms: { ...offer.terms, maxPrice: offer.terms.maxPrice + 1n } },
      { ...offer, terms: { ...offer.terms, salt: 1n } },
      { ...offer, chainId: 1 },
    ]
    for (const o of altered) await expectCode(assertJobOfferAuthentic(o), ProtocolErrorCode.INVALID_SIGNATURE)
  })

  it("verifies against the job id it is given: its own passes, another offer's does not", async () => {
    const offer = await makeOffer(requester)
    await assertJobOfferAuthentic(offer, { jobId: jobIdOf(offer.terms) })
    const other = await makeOffer(requester, { salt: offer.terms.salt + 1n })
    await expectCode(
      assertJobOfferAuthentic(offer, { jobId: jobIdOf(other.terms) }),
      ProtocolErrorCode.INVALID_SIGNATURE,
    )
    // a re-salted forgery stays a forgery with its own job id given
    const resalted = { ...offer, terms: { ...offer.terms, salt: offer.terms.salt + 1n } }
    await expectCode(
      assertJobOfferAuthentic(resalted, { jobId: jobIdOf(resalted.terms) }),
      ProtocolErrorCode.INVALID_SIGNATURE,
    )
  })

  it('rejects an offer whose binding names another peer or address', async () => {
    const offer = await makeOffer(requester)
    await expectCode(
      assertJobOfferAuthentic({ ...offer, requesterPeerId: other.peerId }),
      ProtocolErrorCode.INVALID_IDENTITY_BINDING,
    )
    await expectCode(
      assertJobOfferAuthentic({ ...offer, requesterBinding: other.binding }),
      ProtocolErrorCode.INVALID_IDENTITY_BINDING,
    )
  })

  it('checks inline spec and term consistency', async () => {
    const offer = await makeOffer(requester)
    await expectCode(
      assertJobOfferAuthentic({ ...offer, spec: new Uint8Array([1, 2, 3]) }),
      ProtocolErrorCode.INVALID_VALUE,
    )
    const late = await makeOffer(requester, { deadline: 1n })
    await expectCode(assertJobOfferAuthentic(late), ProtocolErrorCode.INVALID_VALUE)
  })

  it('judges offer timing with clock skew', async () => {
    const offer = await makeOffer(requester, { biddingEnds: 1000n, deadline: 5000n })
    const opts = { clockSkewSeconds: 10, maxBiddingWindowSeconds: 600 }
    expect(offerTiming(offer, { ...opts, now: 900 })).toBe('open')
    expect(offerTiming(offer, { ...opts, now: 1005 })).toBe('open')
    expect(offerTiming(offer, { ...opts, now: 1010 })).toBe('expired')
    expect(offerTiming(offer, { ...opts, now: 100 })).toBe('too-far-ahead')
  })

  it('accepts a signed bid and rejects forged ones', async () => {
    const offer = await makeOffer(requester)
    const bid = await makeBid(provider, offer)
    await assertBidAuthentic(bid, domain)
    await expectCode(
      assertBidAuthentic({ ...bid, terms: { ...bid.terms, price: 1n } }, domain),
      ProtocolErrorCode.INVALID_SIGNATURE,
    )
    await expectCode(assertBidAuthentic(bid, { ...domain, chainId: 1 }), ProtocolErrorCode.INVALID_SIGNATURE)
    await expectCode(
      assertBidAuthentic({ ...bid, providerBinding: other.binding }, domain),
      ProtocolErrorCode.INVALID_IDENTITY_BINDING,
    )
  })

  it('checks capability ads', async () => {
    const ad = makeAd(provider)
    await assertCapabilityAdAuthentic(ad)
    await expectCode(
      assertCapabilityAdAuthentic({ ...ad, provider: other.account.address }),
      ProtocolErrorCode.INVALID_IDENTITY_BINDING,
    )
    await expectCode(
      assertCapabilityAdAuthentic({ ...ad, expiresAt: ad.issuedAt + 7200 }),
      ProtocolErrorCode.INVALID_VALUE,
    )
  })

  it('verifies result leaves against the root', async () => {
    const offer = await makeOffer(requester)
    const jobId = jobIdOf(offer.terms)
    const hashes = Array.from({ length: 9 }, (_, i) => jobIdOf({ ...offer.terms, salt: BigInt(i) }))
    const tree = MerkleTree.fromDataHashes(hashes)
    const response: ResultResponse = {
      version: 1,
      jobId,
      status: 'ok',
      result: {
        resultRoot: tree.root,
        leafCount: 9,
        outputHash: offer.terms.inputHash,
        leaves: [3, 8].map((index) => ({ index, dataHash: hashes[index]!, proof: tree.proof(index) })),
      },
    }
    assertResultLeaves(response)
    const forged = structuredClone(response)
    forged.result!.leaves[1]!.dataHash = hashes[0]!
    expect(() => assertResultLeaves(forged)).toThrow(ProtocolError)
  })
})
