/**
 * Content ids for artifacts (models, inputs, outputs, job specs): the SHA-256 of the
 * bytes, written as a 0x-prefixed lowercase bytes32 hex string. That is what a JobOffer's
 * `modelHash`/`inputHash` hold and what names a file in the artifact store.
 *
 * SHA-256 rather than keccak256 because it is what every tool already prints
 * (`sha256sum`), and Node hashes it natively (node:crypto) at GB/s; the value is still a
 * bytes32, so the contract stores it unchanged.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import { ProtocolError, ProtocolErrorCode } from './errors.js'

export type ContentHash = Hex

const CONTENT_HASH_RE = /^0x[0-9a-f]{64}$/

/** True for exactly `0x` + 64 lowercase hex digits: the only names the store accepts. */
export function isContentHash(value: unknown): value is ContentHash {
  return typeof value === 'string' && CONTENT_HASH_RE.test(value)
}

/** Returns the hash lowercased, or throws `ProtocolError(INVALID_CONTENT_HASH)`. */
export function parseContentHash(value: unknown): ContentHash {
  if (typeof value === 'string' && value.length === 66) {
    const lower = value.toLowerCase()
    if (CONTENT_HASH_RE.test(lower)) return lower as ContentHash
  }
  throw new ProtocolError(ProtocolErrorCode.INVALID_CONTENT_HASH, 'not a content hash', {
    details: 'expected 0x followed by 64 hex digits (a SHA-256 digest)',
  })
}

export function contentHashOf(bytes: Uint8Array): ContentHash {
  return bytesToContentHash(sha256(bytes))
}

export function bytesToContentHash(digest: Uint8Array): ContentHash {
  if (digest.length !== 32) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_CONTENT_HASH, 'a content hash has 32 bytes', {
      details: `got ${digest.length}`,
    })
  }
  return bytesToHex(digest)
}

export function contentHashToBytes(hash: ContentHash): Uint8Array {
  const checked = parseContentHash(hash)
  return hexToBytes(checked)
}

/**
 * An incremental hasher: feed chunks as they arrive (from a stream, a file) and read the
 * content hash at the end. Pure computation, no I/O, so both the store and the network
 * code can verify bytes while they pass through with constant memory.
 */
export interface ContentHasher {
  update(chunk: Uint8Array): ContentHasher
  /** bytes fed so far */
  readonly bytes: number
  /** finishes the hash; the hasher cannot be used afterwards */
  digest(): ContentHash
}

export function createContentHasher(): ContentHasher {
  const state = sha256.create()
  let bytes = 0
  let done = false
  return {
    update(chunk) {
      if (done) throw new Error('content hasher already finished')
      state.update(chunk)
      bytes += chunk.length
      return this
    },
    get bytes() {
      return bytes
    },
    digest() {
      done = true
      return bytesToContentHash(state.digest())
    },
  }
}
