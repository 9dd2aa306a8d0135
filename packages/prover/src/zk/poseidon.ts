import { BN254_SCALAR_FIELD, fieldInverse, mod } from './field.js'

/**
 * Poseidon over the BN254 scalar field with the x^5 S-box (Grassi, Khovratovich, Rechberger, Roy,
 * Schofnegger: "Poseidon: A New Hash Function for Zero-Knowledge Proof Systems", USENIX Security 2021).
 *
 * The constants are not copied from any library: they are regenerated here with the paper's Grain
 * LFSR procedure (its reference script `generate_parameters_grain.sage`): the LFSR is seeded with the
 * parameters (prime field, x^alpha S-box, n = 254, t, R_F, R_P), the round constants are the first
 * (R_F + R_P) * t field elements drawn with rejection sampling, and the MDS matrix is the Cauchy matrix
 * 1 / (x_i + y_j) over the next 2t elements. For t = 3 the permutation reproduces the reference test
 * vector (see test/zk/poseidon.test.ts), which is the same permutation circomlib ships. This file and
 * the circom templates generated in circuit.ts share these constants, so the off-chain commitments and
 * the in-circuit ones are the same function.
 */

export interface PoseidonParameters {
  /** State width. */
  readonly t: number
  readonly fullRounds: number
  readonly partialRounds: number
  /** Round constants, `(fullRounds + partialRounds) * t` of them, consumed t per round. */
  readonly roundConstants: readonly bigint[]
  /** `mds[i][j]`: new state[i] = sum_j mds[i][j] * state[j]. */
  readonly mds: readonly (readonly bigint[])[]
}

const FIELD_BITS = 254
const FULL_ROUNDS = 8
/** Partial rounds for alpha = 5 over a 254-bit field at 128-bit security, per width (paper, table 2). */
const PARTIAL_ROUNDS: Readonly<Record<number, number>> = {
  2: 56,
  3: 57,
  4: 56,
  5: 60,
  6: 60,
  7: 63,
  8: 64,
  9: 63,
}

function toBits(value: number, width: number): number[] {
  const bits: number[] = []
  for (let i = width - 1; i >= 0; i--) bits.push((value >> i) & 1)
  return bits
}

/** The Grain LFSR in self-shrinking mode, seeded as the Poseidon reference does. */
class GrainLfsr {
  readonly #state: number[]

  constructor(t: number, fullRounds: number, partialRounds: number) {
    this.#state = [
      ...toBits(1, 2), // field: prime
      ...toBits(0, 4), // S-box: x^alpha
      ...toBits(FIELD_BITS, 12),
      ...toBits(t, 12),
      ...toBits(fullRounds, 10),
      ...toBits(partialRounds, 10),
      ...new Array<number>(30).fill(1),
    ]
    for (let i = 0; i < 160; i++) this.#clock()
  }

  #clock(): number {
    const s = this.#state
    const bit = s[62]! ^ s[51]! ^ s[38]! ^ s[23]! ^ s[13]! ^ s[0]!
    s.shift()
    s.push(bit)
    return bit
  }

  /** Self-shrinking: bits come in pairs, the second is output only when the first is 1. */
  nextBit(): number {
    for (;;) {
      const select = this.#clock()
      const bit = this.#clock()
      if (select === 1) return bit
    }
  }

  nextBits(count: number): bigint {
    let value = 0n
    for (let i = 0; i < count; i++) value = (value << 1n) | BigInt(this.nextBit())
    return value
  }

  /** A field element by rejection sampling (used for round constants). */
  nextFieldElement(): bigint {
    for (;;) {
      const candidate = this.nextBits(FIELD_BITS)
      if (candidate < BN254_SCALAR_FIELD) return candidate
    }
  }
}

const parameterCache = new Map<number, PoseidonParameters>()

export function poseidonParameters(t: number): PoseidonParameters {
  const cached = parameterCache.get(t)
  if (cached) return cached
  const partialRounds = PARTIAL_ROUNDS[t]
  if (partialRounds === undefined) throw new RangeError(`no Poseidon parameters for width ${t}`)
  const grain = new GrainLfsr(t, FULL_ROUNDS, partialRounds)
  const roundConstants: bigint[] = []
  for (let i = 0; i < (FULL_ROUNDS + partialRounds) * t; i++) roundConstants.push(grain.nextFieldElement())
  // The MDS elements are reduced modulo p rather than rejection-sampled, as in the reference.
  let mds: bigint[][] | undefined
  while (mds === undefined) {
    const draws = Array.from({ length: 2 * t }, () => mod(grain.nextBits(FIELD_BITS)))
    if (new Set(draws).size !== draws.length) continue
    const xs = draws.slice(0, t)
    const ys = draws.slice(t)
    if (xs.some((x) => ys.some((y) => mod(x + y) === 0n))) continue
    mds = xs.map((x) => ys.map((y) => fieldInverse(x + y)))
  }
  const parameters: PoseidonParameters = { t, fullRounds: FULL_ROUNDS, partialRounds, roundConstants, mds }
  parameterCache.set(t, parameters)
  return parameters
}

function pow5(x: bigint): bigint {
  const x2 = (x * x) % BN254_SCALAR_FIELD
  const x4 = (x2 * x2) % BN254_SCALAR_FIELD
  return (x4 * x) % BN254_SCALAR_FIELD
}

/** The Poseidon permutation on a state of width t. */
export function poseidonPermutation(state: readonly bigint[]): bigint[] {
  const params = poseidonParameters(state.length)
  const { t, fullRounds, partialRounds, roundConstants, mds } = params
  let s = state.map((v) => mod(v))
  const half = fullRounds / 2
  const rounds = fullRounds + partialRounds
  for (let r = 0; r < rounds; r++) {
    s = s.map((v, i) => mod(v + roundConstants[r * t + i]!))
    const full = r < half || r >= half + partialRounds
    s = s.map((v, i) => (full || i === 0 ? pow5(v) : v))
    s = mds.map((row) => mod(row.reduce((acc, m, j) => acc + m * s[j]!, 0n)))
  }
  return s
}

/** Width of the sponge used for every OCN commitment: rate 4, capacity 1. */
export const COMMITMENT_SPONGE_WIDTH = 5

/**
 * Hashes a vector of field elements of any length with a Poseidon sponge of width
 * {@link COMMITMENT_SPONGE_WIDTH}: the capacity element starts at the vector's length (so vectors that
 * differ only by trailing zeros hash apart), each chunk of `rate` elements is added into the rate part
 * (the last chunk zero-padded) followed by a permutation, and the digest is the first rate element.
 */
export function poseidonSponge(values: readonly bigint[], width: number = COMMITMENT_SPONGE_WIDTH): bigint {
  const rate = width - 1
  let state: bigint[] = [BigInt(values.length), ...new Array<bigint>(rate).fill(0n)]
  const chunks = Math.max(1, Math.ceil(values.length / rate))
  for (let c = 0; c < chunks; c++) {
    for (let i = 0; i < rate; i++) {
      const v = values[c * rate + i] ?? 0n
      state[1 + i] = mod(state[1 + i]! + v)
    }
    state = poseidonPermutation(state)
  }
  return state[1]!
}
