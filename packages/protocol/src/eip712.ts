/**
 * EIP-712 typed data for job offers and bids.
 *
 * These definitions are the single source of truth for both sides: the JobMarket
 * contract hashes exactly these structs (field names, order and Solidity types), and the
 * nodes sign and verify them here. Changing a field here without changing
 * `JobMarket.sol`'s type strings breaks every bid, which the cross-check test catches.
 */
import {
  type Address,
  bytesToHex,
  concat,
  encodeAbiParameters,
  type Hex,
  hashDomain,
  hashStruct,
  hashTypedData,
  hexToBytes,
  keccak256,
  toHex,
  validateTypedData,
} from 'viem'
import { keccak256Bytes } from './keccak.js'
import { recoverDigestSigner } from './recover.js'

export const EIP712_DOMAIN_NAME = 'OCN JobMarket'
export const EIP712_DOMAIN_VERSION = '1'

/** Job kinds, as the contract stores them (uint8). */
export const JobKind = { inference: 0, training: 1 } as const
export type JobKind = keyof typeof JobKind

/** Verification modes, as the contract stores them (uint8). */
export const VerificationMode = { replay: 0, zk: 1 } as const
export type VerificationMode = keyof typeof VerificationMode

export const jobOfferTypes = {
  JobOffer: [
    { name: 'requester', type: 'address' },
    { name: 'modelHash', type: 'bytes32' },
    { name: 'inputHash', type: 'bytes32' },
    { name: 'specHash', type: 'bytes32' },
    { name: 'kind', type: 'uint8' },
    { name: 'verification', type: 'uint8' },
    { name: 'maxPrice', type: 'uint256' },
    { name: 'minCollateral', type: 'uint256' },
    { name: 'biddingEnds', type: 'uint64' },
    { name: 'deadline', type: 'uint64' },
    { name: 'sampleCount', type: 'uint32' },
    { name: 'microBatchSize', type: 'uint32' },
    { name: 'salt', type: 'uint256' },
  ],
} as const

export const bidTypes = {
  Bid: [
    { name: 'jobId', type: 'bytes32' },
    { name: 'provider', type: 'address' },
    { name: 'price', type: 'uint256' },
    { name: 'collateral', type: 'uint256' },
    { name: 'expiry', type: 'uint64' },
    { name: 'nonce', type: 'uint256' },
    { name: 'etaSeconds', type: 'uint32' },
  ],
} as const

/**
 * The on-chain part of a job offer: what the requester commits to and the contract
 * checks. `salt` makes two otherwise identical offers distinct jobs. Times are unix
 * seconds (chain time); `deadline` is the latest commit time.
 */
export interface OfferTerms {
  requester: Address
  modelHash: Hex
  inputHash: Hex
  specHash: Hex
  kind: number
  verification: number
  maxPrice: bigint
  minCollateral: bigint
  biddingEnds: bigint
  deadline: bigint
  sampleCount: number
  microBatchSize: number
  salt: bigint
}

/** The part of a bid that the provider signs and the contract checks. */
export interface BidTerms {
  jobId: Hex
  provider: Address
  price: bigint
  collateral: bigint
  expiry: bigint
  nonce: bigint
  etaSeconds: number
}

export interface MarketDomain {
  chainId: number
  verifyingContract: Address
}

export function marketDomain({ chainId, verifyingContract }: MarketDomain) {
  return {
    name: EIP712_DOMAIN_NAME,
    version: EIP712_DOMAIN_VERSION,
    chainId,
    verifyingContract,
  } as const
}

/** `JobOffer(address requester,...)`: the EIP-712 type string, hashed once (viem hashes it per call) */
const jobOfferTypeHash = keccak256(
  toHex(`JobOffer(${jobOfferTypes.JobOffer.map(({ name, type }) => `${type} ${name}`).join(',')})`),
)
const jobOfferAbi = [{ type: 'bytes32' }, ...jobOfferTypes.JobOffer.map(({ type }) => ({ type }))] as const

/**
 * A job's id is the EIP-712 struct hash of its offer terms (domain-independent, so the
 * same id names the job on the wire and on-chain). The contract computes the same value.
 *
 * It is viem's `hashStruct` for a struct of atomic fields, spelled out: the type hash and the
 * fields ABI-encoded by viem (which refuses what hashStruct refuses: a bad address checksum,
 * an integer out of its type's range, a bytes32 of another size), then keccak256 by the
 * WebAssembly keccak (keccak.ts) rather than viem's pure-JS one, ~90 µs to ~25 µs per offer,
 * once per offer at every node. test/eip712.test.ts compares it with hashStruct.
 */
export function jobIdOf(offer: OfferTerms): Hex {
  const values = jobOfferTypes.JobOffer.map(({ name }) => offer[name])
  const encoded = encodeAbiParameters(jobOfferAbi, [jobOfferTypeHash, ...values] as never)
  return bytesToHex(keccak256Bytes(hexToBytes(encoded)))
}

/** viem's `hashStruct` of the offer terms: what `jobIdOf` must equal (tests, benchmarks) */
export function jobIdOfByViem(offer: OfferTerms): Hex {
  return hashStruct({ data: offer, primaryType: 'JobOffer', types: jobOfferTypes })
}

export function offerTypedData(domain: MarketDomain, offer: OfferTerms) {
  return {
    domain: marketDomain(domain),
    types: jobOfferTypes,
    primaryType: 'JobOffer',
    message: offer,
  } as const
}

export function bidTypedData(domain: MarketDomain, bid: BidTerms) {
  return {
    domain: marketDomain(domain),
    types: bidTypes,
    primaryType: 'Bid',
    message: bid,
  } as const
}

/** The digest the contract recovers the provider's signature against. */
export function bidDigest(domain: MarketDomain, bid: BidTerms): Hex {
  return hashTypedData(bidTypedData(domain, bid))
}

export async function recoverBidSigner(
  domain: MarketDomain,
  bid: BidTerms,
  signature: Hex,
): Promise<Address> {
  return recoverDigestSigner(bidDigest(domain, bid), signature)
}

/** the EIP712Domain fields of a market domain (what viem's getTypesForEIP712Domain gives for it) */
const marketDomainTypes = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
] as const

/** domain separators by chain id and contract: a node sees one or two markets */
const domainSeparators = new Map<string, Hex>()
const MAX_DOMAIN_SEPARATORS = 64

function domainSeparatorOf(domain: ReturnType<typeof marketDomain>): Hex {
  const key = `${domain.chainId}|${domain.verifyingContract}`
  let separator = domainSeparators.get(key)
  if (separator === undefined) {
    // viem's types want a bigint chainId once EIP712Domain is spelled out; at run time it takes
    // the number, as hashTypedData does with the same domain
    separator = hashDomain({ domain, types: { EIP712Domain: marketDomainTypes } } as never)
    // offers naming arbitrary markets must not grow this without bound
    if (domainSeparators.size >= MAX_DOMAIN_SEPARATORS) domainSeparators.clear()
    domainSeparators.set(key, separator)
  }
  return separator
}

/**
 * The digest the requester signs: `hashTypedData(offerTypedData(domain, offer))`, the
 * same value (test/eip712.test.ts compares them), but built from the job id when the caller
 * has it already (the gossip validator computes it for its duplicate check), so an offer's
 * struct is hashed once, not twice (~90 µs each in viem's pure-JS keccak). The typed data
 * is still validated as hashTypedData validates it (address checksums, integer ranges).
 */
export function offerDigest(domain: MarketDomain, offer: OfferTerms, jobId: Hex = jobIdOf(offer)): Hex {
  const typedData = offerTypedData(domain, offer)
  validateTypedData({ ...typedData, types: { EIP712Domain: marketDomainTypes, ...typedData.types } } as never)
  return bytesToHex(
    keccak256Bytes(hexToBytes(concat(['0x1901', domainSeparatorOf(typedData.domain), jobId]))),
  )
}

/**
 * The offer's signer. `jobId`, when given, must be `jobIdOf(offer)`: callers that computed it
 * already pass it to spare a second struct hash.
 */
export async function recoverOfferSigner(
  domain: MarketDomain,
  offer: OfferTerms,
  signature: Hex,
  jobId?: Hex,
): Promise<Address> {
  return recoverDigestSigner(offerDigest(domain, offer, jobId), signature)
}
