import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type Hex, keccak256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import {
  type Bid,
  type BidTerms,
  bidTypedData,
  type CapabilityAd,
  contentHashOf,
  createIdentityBinding,
  type JobOffer,
  jobIdOf,
  type MarketDomain,
  type OfferTerms,
  offerTypedData,
} from '../src/index.js'

export const domain: MarketDomain = {
  chainId: 31337,
  verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
}

export function accountFor(seed: string) {
  return privateKeyToAccount(keccak256(toHex(seed)))
}

export async function makeIdentity(seed: string) {
  const account = accountFor(seed)
  const peerKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(peerKey).toString()
  const binding = await createIdentityBinding(account, peerKey)
  return { account, peerKey, peerId, binding }
}

export type Identity = Awaited<ReturnType<typeof makeIdentity>>

export const spec = new TextEncoder().encode('{"inputs":["x"],"outputs":["y"]}')

export function offerTerms(requester: Hex, overrides: Partial<OfferTerms> = {}): OfferTerms {
  return {
    requester: requester as OfferTerms['requester'],
    modelHash: contentHashOf(new TextEncoder().encode('model')),
    inputHash: contentHashOf(new TextEncoder().encode('input')),
    specHash: contentHashOf(spec),
    kind: 0,
    verification: 0,
    maxPrice: 10n ** 21n,
    minCollateral: 5n * 10n ** 20n,
    biddingEnds: 1_900_000_000n,
    deadline: 1_900_003_600n,
    sampleCount: 1000,
    microBatchSize: 10,
    salt: 2n ** 200n + 7n,
    ...overrides,
  }
}

export async function makeOffer(id: Identity, overrides: Partial<OfferTerms> = {}): Promise<JobOffer> {
  const terms = offerTerms(id.account.address, overrides)
  return {
    version: 1,
    chainId: domain.chainId,
    market: domain.verifyingContract,
    terms,
    requesterPeerId: id.peerId,
    requesterBinding: id.binding,
    signature: await id.account.signTypedData(offerTypedData(domain, terms)),
    modelBytes: 1234,
    inputBytes: 99,
    spec,
  }
}

export async function makeBid(
  id: Identity,
  offer: JobOffer,
  overrides: Partial<BidTerms> = {},
): Promise<Bid> {
  const terms: BidTerms = {
    jobId: jobIdOf(offer.terms),
    provider: id.account.address,
    price: 9n * 10n ** 20n,
    collateral: 6n * 10n ** 20n,
    expiry: 1_900_000_100n,
    nonce: 1n,
    etaSeconds: 120,
    ...overrides,
  }
  return {
    version: 1,
    terms,
    signature: await id.account.signTypedData(bidTypedData(domain, terms)),
    providerPeerId: id.peerId,
    providerBinding: id.binding,
  }
}

export function makeAd(id: Identity, issuedAt = 1_800_000_000): CapabilityAd {
  return {
    version: 1,
    providerPeerId: id.peerId,
    provider: id.account.address,
    providerBinding: id.binding,
    device: { kind: 'gpu', name: 'NVIDIA H100 80GB HBM3', memoryBytes: 80 * 2 ** 30 },
    executionProviders: ['CUDAExecutionProvider', 'CPUExecutionProvider'],
    cores: 16,
    modelsCached: [contentHashOf(new TextEncoder().encode('model'))],
    pricePerUnit: 10n ** 15n,
    freeSlots: 2,
    issuedAt,
    expiresAt: issuedAt + 600,
  }
}
