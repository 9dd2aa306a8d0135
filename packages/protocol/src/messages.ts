/**
 * The wire messages of the OCN network, their schemas and their size limits.
 *
 * Every message carries `version: 1`; a peer that meets another version refuses it with
 * `ProtocolError(UNSUPPORTED_VERSION)` rather than guessing. The on-chain terms of offers
 * and bids (`OfferTerms`, `BidTerms` in eip712.ts) travel unchanged inside the wire
 * messages, so what was signed is exactly what arrives.
 */
import type { Address, Hex } from 'viem'
import type { ContentHash } from './content.js'
import type { BidTerms, OfferTerms } from './eip712.js'
import type { IdentityBinding } from './identity.js'
import { type Field, f } from './schema.js'

export const PROTOCOL_VERSION = 1

/**
 * Hard upper bounds on encoded sizes, checked before a single byte is decoded. Each is a
 * few times the largest legitimate message, so honest traffic never meets it and a
 * hostile peer cannot make us parse (or gossip) more than this.
 */
export const MessageSizeLimit = {
  /** terms ~500 B + binding ~250 B + signature + inline spec up to 8 KiB */
  jobOffer: 16 * 1024,
  /** terms + binding + signature: ~600 B */
  bid: 2 * 1024,
  /** up to 64 cached model hashes (~2.2 KiB) plus device strings */
  capabilityAd: 8 * 1024,
  resultNotice: 1024,
  bidReceipt: 512,
  resultRequest: 2 * 1024,
  /** up to 128 leaves with 32-deep proofs: ~140 KiB */
  resultResponse: 256 * 1024,
  artifactRequest: 256,
  artifactResponse: 256,
  /** at most MAX_STREAMED_TOKENS_PER_BATCH tokens of ≤ 5 bytes in ≤ MAX_TOKEN_RUNS_PER_BATCH runs: < 6 KiB */
  tokenBatch: 8 * 1024,
} as const
export type MessageType = keyof typeof MessageSizeLimit

/** Largest spec a JobOffer may carry inline; bigger specs travel as artifacts. */
export const MAX_INLINE_SPEC_BYTES = 8 * 1024
export const MAX_CACHED_MODELS_ADVERTISED = 64
export const MAX_RESULT_LEAVES_PER_REQUEST = 128
export const MAX_MERKLE_PROOF_DEPTH = 32
/** A token batch holds at most this many runs (one prompt's consecutive positions each)... */
export const MAX_TOKEN_RUNS_PER_BATCH = 64
/** ...and at most this many tokens in all (the sender packs to it; the size limit enforces it). */
export const MAX_STREAMED_TOKENS_PER_BATCH = 1024
/** The largest token id a batch carries (int32, as generation leaves commit tokens). */
export const MAX_STREAMED_TOKEN_ID = 2 ** 31 - 1

// ---------------------------------------------------------------------------------------
// Types (the TypeScript form)

export interface JobOffer {
  version: 1
  /** the chain and JobMarket the offer is signed for (EIP-712 domain) */
  chainId: number
  market: Address
  terms: OfferTerms
  /** where providers send bids (`/ocn/bid/1.0.0`) */
  requesterPeerId: string
  /** binds `terms.requester` to `requesterPeerId` */
  requesterBinding: IdentityBinding
  /** EIP-712 signature by `terms.requester` over `offerTypedData(domain, terms)` */
  signature: Hex
  /** sizes of the model and input artifacts, so providers can decide before fetching */
  modelBytes: number
  inputBytes: number
  /** the job spec itself, when small; its content hash must equal `terms.specHash` */
  spec?: Uint8Array
}

export interface Bid {
  version: 1
  terms: BidTerms
  /** EIP-712 signature by `terms.provider` over `bidTypedData(domain, terms)` */
  signature: Hex
  providerPeerId: string
  /** binds `terms.provider` to `providerPeerId` */
  providerBinding: IdentityBinding
}

export const DeviceKind = ['cpu', 'gpu'] as const
export type DeviceKind = (typeof DeviceKind)[number]

export interface DeviceInfo {
  kind: DeviceKind
  /** e.g. "NVIDIA H100 80GB HBM3" or the CPU model */
  name: string
  memoryBytes: number
}

export interface CapabilityAd {
  version: 1
  providerPeerId: string
  provider: Address
  providerBinding: IdentityBinding
  device: DeviceInfo
  /** ONNX Runtime execution providers, e.g. ["CUDAExecutionProvider", "CPUExecutionProvider"] */
  executionProviders: string[]
  cores: number
  /** content hashes of models already in the provider's artifact store */
  modelsCached: ContentHash[]
  /** asking price per sample (wei of the payment token) */
  pricePerUnit: bigint
  freeSlots: number
  /** unix seconds; a newer ad from the same provider replaces an older one */
  issuedAt: number
  expiresAt: number
}

/** Sent by a provider to the requester once a result is committed on-chain. */
export interface ResultNotice {
  version: 1
  jobId: Hex
  providerPeerId: string
  /** Merkle root over the result leaves (see merkle.ts), as committed on-chain */
  resultRoot: Hex
  leafCount: number
  /** content hash of the full output artifact, fetchable over `/ocn/artifact/1.0.0` */
  outputHash: ContentHash
  /** the commit transaction, when the provider wants to point at it */
  commitTx?: Hex
}

export const BidRejection = [
  'unknown-job',
  'bidding-closed',
  'invalid-bid',
  'invalid-signature',
  'invalid-binding',
  'price-too-high',
  'collateral-too-low',
  'expired',
  'duplicate',
  'rate-limited',
  'internal',
] as const
export type BidRejection = (typeof BidRejection)[number]

/** The requester's answer to a bid on `/ocn/bid/1.0.0`. */
export interface BidReceipt {
  version: 1
  jobId: Hex
  accepted: boolean
  /** present when not accepted */
  reason?: BidRejection
}

/** `/ocn/result/1.0.0` request: some leaves of a job's result, with proofs. */
export interface ResultRequest {
  version: 1
  jobId: Hex
  /** leaf indices; at most MAX_RESULT_LEAVES_PER_REQUEST */
  indices: number[]
}

export interface ResultLeaf {
  index: number
  /** the leaf's data hash; the leaf is `merkleLeaf(index, dataHash)` */
  dataHash: Hex
  proof: Hex[]
}

export const ResultStatus = ['ok', 'not-found', 'not-ready', 'bad-request'] as const
export type ResultStatus = (typeof ResultStatus)[number]

export interface ResultResponse {
  version: 1
  jobId: Hex
  status: ResultStatus
  /** present when status is ok */
  result?: {
    resultRoot: Hex
    leafCount: number
    outputHash: ContentHash
    leaves: ResultLeaf[]
  }
}

/** `/ocn/artifact/1.0.0` request. */
/** Consecutive generated tokens of one prompt, from position `from` on. */
export interface TokenRun {
  prompt: number
  from: number
  tokens: number[]
}

/**
 * `/ocn/tokens/1.0.0`: tokens a provider generated for a job, pushed to the requester while
 * it decodes. Unsigned: the requester takes it only from the awarded provider's peer, and the
 * committed result stays the authority (streamed tokens that differ from it are flagged).
 */
export interface TokenBatch {
  version: 1
  jobId: Hex
  runs: TokenRun[]
}

export interface ArtifactRequest {
  version: 1
  hash: ContentHash
}

export const ArtifactStatus = ['ok', 'not-found', 'busy', 'error'] as const
export type ArtifactStatus = (typeof ArtifactStatus)[number]

/** First frame of an artifact response; when ok, `size` bytes follow in chunk frames. */
export interface ArtifactResponse {
  version: 1
  status: ArtifactStatus
  size: number
}

// ---------------------------------------------------------------------------------------
// Schemas (the wire form)

const version = f.literal(PROTOCOL_VERSION)
const hexHash = f.bytes32

export const identityBindingSchema = f.struct({
  peerId: f.peerId(),
  address: f.address(),
  addressSignature: f.fixedBytes(65),
  // Ed25519 signatures are 64 bytes, secp256k1 DER ones up to 72
  peerSignature: f.hexBytes(80),
})

export const offerTermsSchema = f.struct({
  requester: f.address(),
  modelHash: hexHash(),
  inputHash: hexHash(),
  specHash: hexHash(),
  kind: f.u8(),
  verification: f.u8(),
  maxPrice: f.biguint(256),
  minCollateral: f.biguint(256),
  biddingEnds: f.biguint(64),
  deadline: f.biguint(64),
  sampleCount: f.u32(),
  microBatchSize: f.u32(),
  salt: f.biguint(256),
})

export const bidTermsSchema = f.struct({
  jobId: hexHash(),
  provider: f.address(),
  price: f.biguint(256),
  collateral: f.biguint(256),
  expiry: f.biguint(64),
  nonce: f.biguint(256),
  etaSeconds: f.u32(),
})

const signature65 = () => f.fixedBytes(65)

export const messageSchemas: Record<MessageType, Field> = {
  jobOffer: f.struct({
    version,
    chainId: f.uint(),
    market: f.address(),
    terms: offerTermsSchema,
    requesterPeerId: f.peerId(),
    requesterBinding: identityBindingSchema,
    signature: signature65(),
    modelBytes: f.uint(),
    inputBytes: f.uint(),
    spec: f.optional(f.bytes(MAX_INLINE_SPEC_BYTES)),
  }),
  bid: f.struct({
    version,
    terms: bidTermsSchema,
    signature: signature65(),
    providerPeerId: f.peerId(),
    providerBinding: identityBindingSchema,
  }),
  capabilityAd: f.struct({
    version,
    providerPeerId: f.peerId(),
    provider: f.address(),
    providerBinding: identityBindingSchema,
    device: f.struct({
      kind: f.enum(DeviceKind),
      name: f.string(128),
      memoryBytes: f.uint(),
    }),
    executionProviders: f.list(f.string(64, /^[A-Za-z0-9_.-]+$/), 8),
    cores: f.uint(65_535),
    modelsCached: f.list(hexHash(), MAX_CACHED_MODELS_ADVERTISED),
    pricePerUnit: f.biguint(256),
    freeSlots: f.uint(65_535),
    issuedAt: f.uint(),
    expiresAt: f.uint(),
  }),
  resultNotice: f.struct({
    version,
    jobId: hexHash(),
    providerPeerId: f.peerId(),
    resultRoot: hexHash(),
    leafCount: f.u32(),
    outputHash: hexHash(),
    commitTx: f.optional(hexHash()),
  }),
  bidReceipt: f.struct({
    version,
    jobId: hexHash(),
    accepted: f.bool(),
    reason: f.optional(f.enum(BidRejection)),
  }),
  resultRequest: f.struct({
    version,
    jobId: hexHash(),
    indices: f.list(f.u32(), MAX_RESULT_LEAVES_PER_REQUEST),
  }),
  resultResponse: f.struct({
    version,
    jobId: hexHash(),
    status: f.enum(ResultStatus),
    result: f.optional(
      f.struct({
        resultRoot: hexHash(),
        leafCount: f.u32(),
        outputHash: hexHash(),
        leaves: f.list(
          f.struct({
            index: f.u32(),
            dataHash: hexHash(),
            proof: f.list(hexHash(), MAX_MERKLE_PROOF_DEPTH),
          }),
          MAX_RESULT_LEAVES_PER_REQUEST,
        ),
      }),
    ),
  }),
  artifactRequest: f.struct({ version, hash: hexHash() }),
  tokenBatch: f.struct({
    version,
    jobId: hexHash(),
    runs: f.list(
      f.struct({
        prompt: f.u32(),
        from: f.u32(),
        tokens: f.list(f.uint(MAX_STREAMED_TOKEN_ID), MAX_STREAMED_TOKENS_PER_BATCH),
      }),
      MAX_TOKEN_RUNS_PER_BATCH,
    ),
  }),
  artifactResponse: f.struct({
    version,
    status: f.enum(ArtifactStatus),
    size: f.uint(),
  }),
}

export interface MessageTypes {
  jobOffer: JobOffer
  bid: Bid
  capabilityAd: CapabilityAd
  resultNotice: ResultNotice
  bidReceipt: BidReceipt
  resultRequest: ResultRequest
  resultResponse: ResultResponse
  artifactRequest: ArtifactRequest
  artifactResponse: ArtifactResponse
  tokenBatch: TokenBatch
}
