export interface ZkOptions {
  /** Fractional bits s of the fixed point: values are scaled by 2^s. */
  scaleBits: number
  /** Signed bit width of inputs, weights and activations; the circuit range-checks every one. */
  valueBits: number
  /** Smallest power of tau generated locally (a larger one is generated when the circuit needs it). */
  minPtauPower: number
  /** Largest power generated locally; bigger circuits need a ceremony file passed as ptauPath. */
  maxLocalPtauPower: number
  /** Limit on one prove in the child process (milliseconds). */
  proveTimeoutMs: number
  /** Limit on one off-chain verification in the child process (milliseconds). */
  verifyTimeoutMs: number
  /** Limit on each setup step (compile, powers of tau, Groth16 setup) (milliseconds). */
  setupTimeoutMs: number
}

export const defaultZkOptions: ZkOptions = {
  scaleBits: 8,
  valueBits: 20,
  minPtauPower: 10,
  maxLocalPtauPower: 18,
  proveTimeoutMs: 120_000,
  verifyTimeoutMs: 60_000,
  setupTimeoutMs: 30 * 60_000,
}
