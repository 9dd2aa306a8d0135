/** Messages between the zk worker client and the child process running snarkjs / solc. */

export type ZkTask =
  | { op: 'r1csInfo'; r1csPath: string }
  | { op: 'powersOfTau'; power: number; outPath: string; entropy: string }
  | {
      op: 'groth16Setup'
      r1csPath: string
      ptauPath: string
      zkeyPath: string
      verificationKeyPath: string
      solidityVerifierPath: string
      entropy: string
    }
  | {
      op: 'prove'
      wasmPath: string
      zkeyPath: string
      input: Record<string, string | string[]>
      /** Witness indices whose values are returned (the circuit's output vector). */
      witnessIndices: number[]
    }
  | { op: 'verify'; verificationKey: unknown; publicSignals: string[]; proof: unknown }
  | { op: 'compileSolidity'; sourcePath: string; contractName: string }

export interface R1csInfoResult {
  constraints: number
  publicInputs: number
  privateInputs: number
  outputs: number
  wires: number
}

export interface ProveResult {
  proof: unknown
  publicSignals: string[]
  /** Decimal field elements at the requested witness indices. */
  witnessValues: string[]
  /** Building the curve in the fresh child process, before the timed work. */
  curveInitMs: number
  witnessMs: number
  /** Witness generation plus the Groth16 prover. */
  proveMs: number
}

export interface VerifyResult {
  valid: boolean
  verifyMs: number
  curveInitMs: number
}

export interface CompileSolidityResult {
  abi: unknown[]
  bytecode: `0x${string}`
}

export type ZkWorkerMessage =
  | { kind: 'progress'; message: string }
  | { kind: 'result'; result: unknown }
  | { kind: 'error'; message: string; stack?: string }
