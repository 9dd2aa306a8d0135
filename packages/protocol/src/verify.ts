/**
 * Authenticity and consistency checks for decoded messages: the steps after decoding
 * that need signatures. Each throws only `ProtocolError`, so a validator can map the code
 * to a verdict (accept / ignore / reject) without string matching.
 */
import { type Address, getAddress, type Hex } from 'viem'
import { contentHashOf } from './content.js'
import {
  JobKind,
  type MarketDomain,
  recoverBidSigner,
  recoverOfferSigner,
  VerificationMode,
} from './eip712.js'
import { ProtocolError, ProtocolErrorCode } from './errors.js'
import { assertIdentityBinding, type IdentityBinding } from './identity.js'
import { merkleLeaf, verifyMerkleProof } from './merkle.js'
import type { Bid, CapabilityAd, JobOffer, ResultResponse } from './messages.js'

function invalid(shortMessage: string, details?: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.INVALID_VALUE,
    shortMessage,
    details === undefined ? {} : { details },
  )
}

export interface AuthenticityOptions {
  /**
   * Verifies the identity binding; defaults to `assertIdentityBinding`. Validators pass a
   * cached verifier: a binding is the same in every message of a peer, and verifying it
   * costs an ECDSA recovery.
   */
  verifyBinding?: (binding: IdentityBinding) => Promise<void>
}

export interface OfferAuthenticityOptions extends AuthenticityOptions {
  /** `jobIdOf(offer.terms)` when the caller computed it already: the struct is then hashed once */
  jobId?: Hex
}

async function assertBindingFor(
  binding: IdentityBinding,
  peerId: string,
  address: Address,
  options: AuthenticityOptions = {},
): Promise<void> {
  if (binding.peerId !== peerId) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_IDENTITY_BINDING, 'binding names another peer')
  }
  if (getAddress(binding.address) !== getAddress(address)) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_IDENTITY_BINDING, 'binding names another address')
  }
  await (options.verifyBinding ?? assertIdentityBinding)(binding)
}

const jobKinds = new Set<number>(Object.values(JobKind))
const verificationModes = new Set<number>(Object.values(VerificationMode))

/** Checks the offer's internal consistency (no signatures). */
export function assertOfferConsistent(offer: JobOffer): void {
  const t = offer.terms
  if (!jobKinds.has(t.kind)) throw invalid('unknown job kind', String(t.kind))
  if (!verificationModes.has(t.verification))
    throw invalid('unknown verification mode', String(t.verification))
  if (t.sampleCount < 1) throw invalid('sampleCount must be at least 1')
  if (t.microBatchSize < 1 || t.microBatchSize > t.sampleCount) {
    throw invalid('microBatchSize must be in 1..sampleCount')
  }
  if (t.deadline <= t.biddingEnds) throw invalid('deadline must come after biddingEnds')
  if (offer.spec !== undefined && contentHashOf(offer.spec) !== t.specHash.toLowerCase()) {
    throw invalid('inline spec does not match specHash')
  }
}

/** Binding, EIP-712 signature and consistency of a job offer. */
export async function assertJobOfferAuthentic(
  offer: JobOffer,
  options: OfferAuthenticityOptions = {},
): Promise<void> {
  assertOfferConsistent(offer)
  await assertBindingFor(offer.requesterBinding, offer.requesterPeerId, offer.terms.requester, options)
  const domain: MarketDomain = { chainId: offer.chainId, verifyingContract: offer.market }
  let signer: Address
  try {
    signer = await recoverOfferSigner(domain, offer.terms, offer.signature, options.jobId)
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_SIGNATURE, 'offer signature does not recover', {
      cause,
    })
  }
  if (signer !== getAddress(offer.terms.requester)) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_SIGNATURE, 'offer not signed by its requester')
  }
}

export type OfferTiming = 'open' | 'expired' | 'too-far-ahead'

export interface OfferTimingOptions {
  /** unix seconds */
  now: number
  /** tolerated clock difference between peers, seconds */
  clockSkewSeconds: number
  /** longest bidding window accepted; stops offers that would sit in caches forever */
  maxBiddingWindowSeconds: number
}

export function offerTiming(offer: JobOffer, options: OfferTimingOptions): OfferTiming {
  const now = BigInt(Math.floor(options.now))
  if (offer.terms.biddingEnds + BigInt(options.clockSkewSeconds) <= now) return 'expired'
  if (offer.terms.biddingEnds > now + BigInt(options.maxBiddingWindowSeconds + options.clockSkewSeconds)) {
    return 'too-far-ahead'
  }
  return 'open'
}

/** Binding and EIP-712 signature of a bid, against the market the requester uses. */
export async function assertBidAuthentic(
  bid: Bid,
  domain: MarketDomain,
  options: AuthenticityOptions = {},
): Promise<void> {
  await assertBindingFor(bid.providerBinding, bid.providerPeerId, bid.terms.provider, options)
  let signer: Address
  try {
    signer = await recoverBidSigner(domain, bid.terms, bid.signature)
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_SIGNATURE, 'bid signature does not recover', { cause })
  }
  if (signer !== getAddress(bid.terms.provider)) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_SIGNATURE, 'bid not signed by its provider')
  }
}

/** Longest validity an ad may claim: ads are refreshed, so a stale one must age out. */
export const MAX_AD_LIFETIME_SECONDS = 3600

export async function assertCapabilityAdAuthentic(
  ad: CapabilityAd,
  options: AuthenticityOptions = {},
): Promise<void> {
  if (ad.expiresAt <= ad.issuedAt) throw invalid('ad expires before it is issued')
  if (ad.expiresAt - ad.issuedAt > MAX_AD_LIFETIME_SECONDS) {
    throw invalid('ad lifetime too long', `at most ${MAX_AD_LIFETIME_SECONDS} s`)
  }
  await assertBindingFor(ad.providerBinding, ad.providerPeerId, ad.provider, options)
}

/**
 * Checks every leaf of an `ok` result response against its root. Throws
 * `ProtocolError(INVALID_PROOF)` naming the first leaf that fails.
 */
export function assertResultLeaves(response: ResultResponse): void {
  const result = response.result
  if (response.status !== 'ok' || result === undefined) {
    throw invalid('result response carries no result', response.status)
  }
  for (const leaf of result.leaves) {
    if (leaf.index >= result.leafCount) {
      throw new ProtocolError(ProtocolErrorCode.INVALID_PROOF, 'leaf index out of range', {
        details: `${leaf.index} >= ${result.leafCount}`,
      })
    }
    if (!verifyMerkleProof(result.resultRoot, merkleLeaf(leaf.index, leaf.dataHash), leaf.proof)) {
      throw new ProtocolError(ProtocolErrorCode.INVALID_PROOF, 'Merkle proof does not verify', {
        details: `leaf ${leaf.index}`,
      })
    }
  }
}
