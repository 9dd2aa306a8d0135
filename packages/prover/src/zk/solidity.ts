import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Address, encodeFunctionData, type Hex, type PublicClient } from 'viem'
import type { ZkCircuitArtifacts } from './artifacts.js'
import { ZkError } from './errors.js'
import { checkProofShape, checkPublicSignals } from './prove.js'
import { runZkTask } from './worker-client.js'
import type { CompileSolidityResult } from './worker-protocol.js'

/** The contract name in snarkjs's Groth16 verifier template. */
export const GROTH16_VERIFIER_CONTRACT = 'Groth16Verifier'

/** ABI of the exported verifier for our four public signals (PUBLIC_SIGNAL_NAMES). */
export const groth16VerifierAbi = [
  {
    type: 'function',
    name: 'verifyProof',
    stateMutability: 'view',
    inputs: [
      { name: '_pA', type: 'uint256[2]' },
      { name: '_pB', type: 'uint256[2][2]' },
      { name: '_pC', type: 'uint256[2]' },
      { name: '_pubSignals', type: 'uint256[4]' },
    ],
    outputs: [{ name: '', type: 'bool' }],
  },
] as const

export interface Groth16CallArguments {
  a: readonly [bigint, bigint]
  b: readonly [readonly [bigint, bigint], readonly [bigint, bigint]]
  c: readonly [bigint, bigint]
  /** [modelCommitment, inputCommitment, outputCommitment, jobBinding]. */
  publicSignals: readonly [bigint, bigint, bigint, bigint]
}

/**
 * The verifyProof arguments for a snarkjs proof: affine points, with each G2 coordinate's two
 * Fp2 limbs swapped into the order the EVM pairing precompile expects.
 */
export function toGroth16CallArguments(proof: unknown, publicSignals: unknown): Groth16CallArguments {
  const p = checkProofShape(proof)
  // checkPublicSignals guarantees exactly four
  const v = checkPublicSignals(publicSignals).map(BigInt)
  const s = [v[0]!, v[1]!, v[2]!, v[3]!] as const
  const n = (v: string | undefined): bigint => BigInt(v ?? '0')
  if (p.pi_a[2] !== '1' || p.pi_c[2] !== '1' || p.pi_b[2]?.[0] !== '1' || p.pi_b[2]?.[1] !== '0') {
    throw new ZkError('ZK_BAD_PROOF', 'the proof points are not in affine form')
  }
  return {
    a: [n(p.pi_a[0]), n(p.pi_a[1])],
    b: [
      [n(p.pi_b[0]?.[1]), n(p.pi_b[0]?.[0])],
      [n(p.pi_b[1]?.[1]), n(p.pi_b[1]?.[0])],
    ],
    c: [n(p.pi_c[0]), n(p.pi_c[1])],
    publicSignals: s,
  }
}

/**
 * Compiles the exported Solidity verifier with solc-js (in a child process: solc is a large
 * synchronous WebAssembly module) and caches the ABI and bytecode next to it.
 */
export async function compileGroth16Verifier(
  artifacts: ZkCircuitArtifacts,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<CompileSolidityResult> {
  const cachePath = join(artifacts.dir, 'Groth16Verifier.json')
  if (existsSync(cachePath)) {
    try {
      return JSON.parse(readFileSync(cachePath, 'utf8')) as CompileSolidityResult
    } catch {
      // unreadable cache: compile again
    }
  }
  const result = await runZkTask<CompileSolidityResult>(
    {
      op: 'compileSolidity',
      sourcePath: artifacts.solidityVerifierPath,
      contractName: GROTH16_VERIFIER_CONTRACT,
    },
    { signal: options.signal, timeoutMs: options.timeoutMs ?? 300_000 },
  ).catch((cause: unknown) => {
    throw new ZkError('ZK_ARTIFACTS', 'compiling the Solidity verifier failed', {
      details: cause instanceof Error ? cause.message : String(cause),
      cause,
    })
  })
  const tmp = `${cachePath}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(result))
  renameSync(tmp, cachePath)
  return result
}

/** Calls verifyProof on a deployed verifier (an eth_call: costs nothing, changes nothing). */
export async function verifyProofOnChain(
  client: PublicClient,
  verifier: Address,
  proof: unknown,
  publicSignals: unknown,
): Promise<boolean> {
  const args = toGroth16CallArguments(proof, publicSignals)
  return client.readContract({
    address: verifier,
    abi: groth16VerifierAbi,
    functionName: 'verifyProof',
    args: [args.a, args.b, args.c, args.publicSignals],
  })
}

/** The calldata of a verifyProof call (for a transaction, or for measuring its gas). */
export function encodeVerifyProofCall(proof: unknown, publicSignals: unknown): Hex {
  const args = toGroth16CallArguments(proof, publicSignals)
  return encodeFunctionData({
    abi: groth16VerifierAbi,
    functionName: 'verifyProof',
    args: [args.a, args.b, args.c, args.publicSignals],
  })
}

/** The proof as the EVM sees it: A, B and C as eight 32-byte words (256 bytes). */
export function encodeGroth16Proof(proof: unknown): Hex {
  const p = checkProofShape(proof)
  const words = [
    p.pi_a[0],
    p.pi_a[1],
    p.pi_b[0]?.[1],
    p.pi_b[0]?.[0],
    p.pi_b[1]?.[1],
    p.pi_b[1]?.[0],
    p.pi_c[0],
    p.pi_c[1],
  ]
  return `0x${words
    .map((w) =>
      BigInt(w ?? '0')
        .toString(16)
        .padStart(64, '0'),
    )
    .join('')}`
}
