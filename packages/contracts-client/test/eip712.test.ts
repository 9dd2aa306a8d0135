// Cross-checks the EIP-712 definitions of @ocn/protocol against the JobMarket contract:
// the struct hashes, the domain and a real signature must agree byte for byte.
import {
  type BidTerms,
  bidDigest,
  bidTypedData,
  bidTypes,
  jobIdOf,
  marketDomain,
  type OfferTerms,
} from '@ocn/protocol'
import fc from 'fast-check'
import { type Hex, hashDomain, hashStruct, parseEther } from 'viem'
import { readContract, signTypedData } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { award, getJob, getOnchainJobId, jobMarketAbi } from '../src/index.js'
import {
  approveMarket,
  expectRevert,
  makeBid,
  makeOffer,
  type Protocol,
  setupProtocol,
  stakeAs,
} from './helpers.js'

let p: Protocol
let jobMarket: `0x${string}`

beforeAll(async () => {
  p = await setupProtocol()
  jobMarket = p.deployment.addresses.jobMarket
  await stakeAs(p, p.provider, parseEther('10000'))
  await approveMarket(p, p.requester, parseEther('100000'))
})
afterAll(async () => {
  await p?.chain.stop()
})

const bytes32 = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => `0x${Buffer.from(b).toString('hex')}` as Hex)
const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((b) => `0x${Buffer.from(b).toString('hex')}` as `0x${string}`)
const uint = (bits: number) => fc.bigInt({ min: 0n, max: 2n ** BigInt(bits) - 1n })
const offerArb: fc.Arbitrary<OfferTerms> = fc.record({
  requester: address,
  modelHash: bytes32,
  inputHash: bytes32,
  specHash: bytes32,
  kind: fc.integer({ min: 0, max: 255 }),
  verification: fc.integer({ min: 0, max: 255 }),
  maxPrice: uint(256),
  minCollateral: uint(256),
  biddingEnds: uint(64),
  deadline: uint(64),
  sampleCount: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  microBatchSize: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  salt: uint(256),
})
const bidArb: fc.Arbitrary<BidTerms> = fc.record({
  jobId: bytes32,
  provider: address,
  price: uint(256),
  collateral: uint(256),
  expiry: uint(64),
  nonce: uint(256),
  etaSeconds: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
})

describe('EIP-712 agreement between @ocn/protocol and JobMarket', () => {
  it('jobIdOf equals the contract hash of random offers', async () => {
    await fc.assert(
      fc.asyncProperty(offerArb, async (offer) => {
        expect(await getOnchainJobId(p.admin, { jobMarket, offer })).toBe(jobIdOf(offer))
      }),
      { numRuns: 40 },
    )
  })

  it('bid struct hash and domain separator agree', async () => {
    await fc.assert(
      fc.asyncProperty(bidArb, async (bid) => {
        const onchain = await readContract(p.admin, {
          address: jobMarket,
          abi: jobMarketAbi,
          functionName: 'hashBid',
          args: [bid],
        })
        expect(onchain).toBe(hashStruct({ data: bid, primaryType: 'Bid', types: bidTypes }))
      }),
      { numRuns: 40 },
    )
    const separator = await readContract(p.admin, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'domainSeparator',
    })
    const domain = { ...marketDomain(p.domain), chainId: BigInt(p.domain.chainId) }
    expect(separator).toBe(
      hashDomain({
        domain,
        types: {
          EIP712Domain: [
            { name: 'name', type: 'string' },
            { name: 'version', type: 'string' },
            { name: 'chainId', type: 'uint256' },
            { name: 'verifyingContract', type: 'address' },
          ],
        },
      }),
    )
  })

  it('accepts a bid signed with bidTypedData and rejects the same bid altered in any field', async () => {
    const offer = await makeOffer(p)
    const { bid } = await makeBid(p, offer)
    // signed here with viem directly, not through the client's signBid
    const signature = await signTypedData(p.provider, {
      ...bidTypedData(p.domain, bid),
      account: p.provider.account,
    })
    expect(bidDigest(p.domain, bid)).toMatch(/^0x[0-9a-f]{64}$/)

    const altered: [keyof BidTerms, BidTerms, string][] = [
      ['jobId', { ...bid, jobId: jobIdOf({ ...offer, salt: offer.salt + 1000n }) }, 'BidJobMismatch'],
      ['provider', { ...bid, provider: p.other.account.address }, 'InvalidBidSignature'],
      ['price', { ...bid, price: bid.price - 1n }, 'InvalidBidSignature'],
      ['collateral', { ...bid, collateral: bid.collateral + 1n }, 'InvalidBidSignature'],
      ['expiry', { ...bid, expiry: bid.expiry + 1n }, 'InvalidBidSignature'],
      ['nonce', { ...bid, nonce: bid.nonce + 1_000_000n }, 'InvalidBidSignature'],
      ['etaSeconds', { ...bid, etaSeconds: bid.etaSeconds + 1 }, 'InvalidBidSignature'],
    ]
    expect(altered.map(([field]) => field).sort()).toEqual(bidTypes.Bid.map((f) => f.name).sort())
    for (const [, changed, errorName] of altered) {
      await expectRevert(award(p.requester, { jobMarket, offer, bid: changed, signature }), errorName)
    }
    // an altered offer changes the job id the bid signed
    await expectRevert(
      award(p.requester, { jobMarket, offer: { ...offer, maxPrice: offer.maxPrice + 1n }, bid, signature }),
      'BidJobMismatch',
    )

    const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
    expect(jobId).toBe(jobIdOf(offer))
    const job = await getJob(p.admin, { jobMarket, jobId })
    expect(job.provider).toBe(p.provider.account.address)
    expect(job.price).toBe(bid.price)
  })
})
