/**
 * Keccak-256 of small preimages, for the Merkle tree (32- and 64-byte inputs, hundreds per
 * result). noble's pure-JS keccak costs ~7 µs a call on this project's reference machine and
 * hash-wasm's WebAssembly build under 1 µs: a 256-position generation's tree (767 hashes) drops
 * from ~5 ms to under 1 ms, which is most of what a verifier spends besides its prefill.
 *
 * The WebAssembly module compiles asynchronously, so a call made before it is ready, and every
 * call where WebAssembly is unavailable, goes to noble's: both compute the same function, so
 * only the speed depends on which answered. Await `keccakReady()` where the first trees must be
 * fast (a node's executor does at start).
 */
import { keccak_256 } from '@noble/hashes/sha3.js'

let wasmKeccak: ((bytes: Uint8Array) => Uint8Array) | undefined
let loading: Promise<void> | undefined

/**
 * Loads and compiles the WebAssembly keccak once, on first use: a process that never hashes a
 * tree (most CLI commands) never parses hash-wasm. Never rejects: without it, noble's answers.
 */
function load(): Promise<void> {
  loading ??= import('hash-wasm')
    .then(
      async ({ createKeccak }) => {
        const hasher = await createKeccak(256)
        // one hasher reused: init, update and digest run synchronously, so calls never interleave
        wasmKeccak = (bytes) => {
          hasher.init()
          hasher.update(bytes)
          return hasher.digest('binary')
        }
      },
      () => undefined,
    )
    .catch(() => undefined)
  return loading
}

/** keccak256(bytes) as 32 bytes (a fresh array the caller owns). */
export function keccak256Bytes(bytes: Uint8Array): Uint8Array {
  if (wasmKeccak !== undefined) return wasmKeccak(bytes)
  void load()
  return keccak_256(bytes)
}

/** Loads the WebAssembly keccak; resolves once it answers (or it is known that it cannot). */
export function keccakReady(): Promise<void> {
  return load()
}

/** Which implementation answers now: for tests and benchmarks. */
export function keccakImplementation(): 'wasm' | 'js' {
  return wasmKeccak === undefined ? 'js' : 'wasm'
}
