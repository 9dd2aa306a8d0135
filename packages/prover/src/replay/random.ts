/**
 * The deterministic random stream OCN uses wherever two parties must draw the same
 * numbers: spot-check sampling, training data order, weight initialisation.
 *
 * Definition (so any implementation can reproduce it): the stream is SHA-256 in counter
 * mode, block_c = SHA-256(seed || uint64_be(c)) for c = 0, 1, 2, ...; the blocks are
 * concatenated and consumed as big-endian uint32 words. `uniformInt(n)` draws a word w and
 * rejects it while w >= floor(2^32 / n) * n, then returns w mod n, so every value is exactly
 * equally likely. `float64()` takes two words, keeps 53 bits: (a >>> 5) * 2^26 + (b >>> 6),
 * divided by 2^53, uniform in [0, 1).
 */
import { createHash } from 'node:crypto'
import { ReplayError } from './errors.js'

export class DeterministicRandom {
  private readonly seed: Uint8Array
  private counter = 0n
  private block: Uint8Array = new Uint8Array(0)
  private offset = 0

  constructor(seed: Uint8Array) {
    this.seed = seed.slice()
  }

  /** A stream for a purpose: the seed is SHA-256(utf8(domain) || 0x00 || parts...). */
  static derive(domain: string, ...parts: (Uint8Array | string | number | bigint)[]): DeterministicRandom {
    const h = createHash('sha256')
      .update(domain)
      .update(new Uint8Array([0]))
    for (const p of parts) {
      if (typeof p === 'string') h.update(p)
      else if (typeof p === 'number' || typeof p === 'bigint') h.update(uint64be(BigInt(p)))
      else h.update(p)
    }
    return new DeterministicRandom(h.digest())
  }

  uint32(): number {
    if (this.offset + 4 > this.block.length) {
      this.block = createHash('sha256').update(this.seed).update(uint64be(this.counter)).digest()
      this.counter++
      this.offset = 0
    }
    const b = this.block
    const o = this.offset
    this.offset += 4
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0
  }

  /** Uniform integer in [0, n), n <= 2^32, without modulo bias. */
  uniformInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
      throw new ReplayError('REPLAY_INVALID_ARGUMENT', `uniformInt needs 1 <= n <= 2^32, got ${n}`)
    }
    const limit = Math.floor(2 ** 32 / n) * n
    for (;;) {
      const w = this.uint32()
      if (w < limit) return w % n
    }
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  float64(): number {
    const a = this.uint32() >>> 5
    const b = this.uint32() >>> 6
    return (a * 2 ** 26 + b) / 2 ** 53
  }

  /** A uniform permutation of 0..n-1 (Fisher-Yates, from the last position down). */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n)
    for (let i = 0; i < n; i++) p[i] = i
    for (let i = n - 1; i > 0; i--) {
      const j = this.uniformInt(i + 1)
      const t = p[i]!
      p[i] = p[j]!
      p[j] = t
    }
    return p
  }
}

function uint64be(v: bigint): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, v))
  return out
}
