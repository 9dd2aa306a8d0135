// Minimal typings for the parts of snarkjs 0.7 the zk worker uses (snarkjs ships none).
declare module 'snarkjs' {
  export interface SnarkjsLogger {
    info(message: string): void
    debug(message: string): void
    warn(message: string): void
    error(message: string): void
  }
  export interface Groth16Proof {
    pi_a: string[]
    pi_b: string[][]
    pi_c: string[]
    protocol: string
    curve: string
  }
  export type MemFile = { type: 'mem'; data?: Uint8Array }
  export const groth16: {
    prove(
      zkeyFileName: string,
      witness: string | MemFile,
      logger?: SnarkjsLogger,
    ): Promise<{ proof: Groth16Proof; publicSignals: string[] }>
    verify(
      verificationKey: unknown,
      publicSignals: readonly string[],
      proof: unknown,
      logger?: SnarkjsLogger,
    ): Promise<boolean>
  }
  export const wtns: {
    calculate(input: Record<string, unknown>, wasmFileName: string, wtnsFile: string | MemFile): Promise<void>
    exportJson(wtnsFile: string | MemFile): Promise<bigint[]>
  }
  export const powersOfTau: {
    newAccumulator(curve: unknown, power: number, fileName: string, logger?: SnarkjsLogger): Promise<unknown>
    contribute(
      oldPtau: string,
      newPtau: string,
      name: string,
      entropy: string,
      logger?: SnarkjsLogger,
    ): Promise<unknown>
    preparePhase2(oldPtau: string, newPtau: string, logger?: SnarkjsLogger): Promise<unknown>
  }
  export const zKey: {
    newZKey(r1csName: string, ptauName: string, zkeyName: string, logger?: SnarkjsLogger): Promise<unknown>
    contribute(
      oldZkey: string,
      newZkey: string,
      name: string,
      entropy: string,
      logger?: SnarkjsLogger,
    ): Promise<unknown>
    exportVerificationKey(zkeyName: string, logger?: SnarkjsLogger): Promise<Record<string, unknown>>
    exportSolidityVerifier(
      zkeyName: string,
      templates: Record<string, string>,
      logger?: SnarkjsLogger,
    ): Promise<string>
  }
  export const r1cs: {
    info(
      r1csName: string,
      logger?: SnarkjsLogger,
    ): Promise<{
      nConstraints: number
      nPubInputs: number
      nPrvInputs: number
      nOutputs: number
      nVars: number
    }>
  }
  export const curves: {
    getCurveFromName(
      name: string,
      options?: { singleThread?: boolean },
    ): Promise<{ terminate(): Promise<void> }>
  }
}
