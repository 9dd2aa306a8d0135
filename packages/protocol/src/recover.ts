/**
 * ECDSA (secp256k1) signer recovery: the address that signed a 32-byte digest.
 *
 * viem recovers with @noble/curves, pure JavaScript: ~1.7 ms a call on this project's
 * reference machine, and every node pays it once per gossiped offer (docs/network.md,
 * "Gossip topics and validation"). tiny-secp256k1 (MIT) is libsecp256k1 compiled to
 * WebAssembly, shipped inside its npm package (no native build, no download): ~0.1 ms.
 *
 * Same answers as viem, by construction: the fast path takes only a well-formed signature
 * (65 bytes of hex, v in 0, 1, 27, 28) and only a public key libsecp256k1 recovered; for
 * anything else, or where WebAssembly is unavailable, viem answers (and throws viem's
 * error). Both accept high-s signatures (recovery has no low-s rule; viem's too) and both
 * reduce the digest mod n. recover.test.ts compares them on random keys and on malformed
 * signatures.
 */
import { type Address, getAddress, type Hex, recoverAddress } from 'viem'
import { keccak256Bytes } from './keccak.js'

type Recover = (
  hash: Uint8Array,
  signature: Uint8Array,
  recoveryId: 0 | 1,
  compressed: false,
) => Uint8Array | null

let wasmRecover: Recover | undefined
let loading: Promise<void> | undefined

/**
 * Loads tiny-secp256k1 once, on first use (it compiles a 1.2 MB WebAssembly module when
 * imported: a process that never recovers a signature never pays it). Never rejects.
 */
function load(): Promise<void> {
  loading ??= import('tiny-secp256k1')
    .then(
      (module) => {
        wasmRecover = module.recover as Recover
      },
      () => undefined,
    )
    .catch(() => undefined)
  return loading
}

/** Loads the WebAssembly recovery; resolves once it answers (or it is known that it cannot). */
export function recoveryReady(): Promise<void> {
  return load()
}

/** Which implementation answers well-formed signatures now: for tests and benchmarks. */
export function recoveryImplementation(): 'wasm' | 'js' {
  return wasmRecover === undefined ? 'js' : 'wasm'
}

const SIGNATURE_RE = /^0x[0-9a-fA-F]{130}$/
const DIGEST_RE = /^0x[0-9a-fA-F]{64}$/

/** the recovery bit viem accepts (0, 1, 27, 28), or undefined for any other v */
function recoveryBit(v: number): 0 | 1 | undefined {
  if (v === 0 || v === 27) return 0
  if (v === 1 || v === 28) return 1
  return undefined
}

/** the address libsecp256k1 recovers, or undefined where viem must decide */
function recoverWithWasm(recover: Recover, digest: Hex, signature: Hex): Address | undefined {
  if (!DIGEST_RE.test(digest) || !SIGNATURE_RE.test(signature)) return undefined
  const bytes = Buffer.from(signature.slice(2), 'hex')
  const bit = recoveryBit(bytes[64] as number)
  if (bit === undefined) return undefined
  let publicKey: Uint8Array | null
  try {
    // throws for r or s of 0 or >= n and for an r that is no point's x: viem throws for those too
    publicKey = recover(Buffer.from(digest.slice(2), 'hex'), bytes.subarray(0, 64), bit, false)
  } catch {
    return undefined
  }
  if (publicKey === null || publicKey.length !== 65) return undefined
  // the address is the last 20 bytes of keccak256 of the uncompressed key without its 0x04 prefix
  const hash = keccak256Bytes(publicKey.subarray(1))
  return getAddress(`0x${Buffer.from(hash.subarray(12)).toString('hex')}`)
}

/**
 * The checksummed address whose key signed `digest` (32 bytes, hex). Throws viem's error
 * where viem's `recoverAddress` throws.
 */
export async function recoverDigestSigner(digest: Hex, signature: Hex): Promise<Address> {
  if (wasmRecover === undefined) await load()
  const recovered = wasmRecover === undefined ? undefined : recoverWithWasm(wasmRecover, digest, signature)
  return recovered ?? recoverAddress({ hash: digest, signature })
}
