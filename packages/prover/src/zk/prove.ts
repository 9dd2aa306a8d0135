import { readFile } from 'node:fs/promises'
import { deserializeQuantizedMlp, type ZkCircuitArtifacts } from './artifacts.js'
import { PUBLIC_SIGNAL_NAMES } from './circuit.js'
import { ZkError } from './errors.js'
import { BN254_SCALAR_FIELD, fieldToSigned, isFieldElement, signedToField } from './field.js'
import { defaultZkOptions } from './options.js'
import {
  dequantize,
  type QuantizedMlp,
  quantizedForward,
  quantizeInput,
  vectorCommitment,
} from './quantize.js'
import { runZkTask } from './worker-client.js'
import type { ProveResult, VerifyResult } from './worker-protocol.js'

/** A Groth16 proof in snarkjs's JSON form (decimal strings, projective coordinates). */
export interface Groth16Proof {
  pi_a: string[]
  pi_b: string[][]
  pi_c: string[]
  protocol: string
  curve: string
}

/** The model, input and output commitments of an inference proof, as decimal field elements. */
export interface InferenceCommitments {
  modelCommitment: string
  inputCommitment: string
  outputCommitment: string
}

/**
 * The four public signals in circuit order: the commitments, then the job binding
 * (`zkJobBinding(jobId, provider)` from @ocn/protocol, decimal), which ties the proof to one job
 * and one provider.
 */
export function publicSignalsOf(commitments: InferenceCommitments, jobBinding: string): string[] {
  return [commitments.modelCommitment, commitments.inputCommitment, commitments.outputCommitment, jobBinding]
}

/** A job binding as the decimal field element the circuit takes, or ZK_BAD_INPUT. */
function checkJobBinding(jobBinding: bigint | string): string {
  const value =
    typeof jobBinding === 'bigint' ? jobBinding : DECIMAL.test(jobBinding) ? BigInt(jobBinding) : -1n
  if (!isFieldElement(value)) {
    throw new ZkError('ZK_BAD_INPUT', 'the job binding is not a field element', {
      details: `${String(jobBinding)}: compute it with zkJobBinding(jobId, provider) from @ocn/protocol`,
    })
  }
  return value.toString()
}

export interface ProveInferenceParameters {
  artifacts: ZkCircuitArtifacts
  /** The float input (quantized with the model's scale), or */
  input?: ArrayLike<number>
  /** the already quantized input. */
  quantizedInput?: readonly bigint[]
  /**
   * `zkJobBinding(jobId, provider)` from @ocn/protocol: the proof settles only that job, by only
   * that provider. A proof that is not meant for settlement (a demonstration) may pass 0n.
   */
  jobBinding: bigint | string
  signal?: AbortSignal
  timeoutMs?: number
}

export interface InferenceProof {
  proof: Groth16Proof
  /** [modelCommitment, inputCommitment, outputCommitment, jobBinding]. */
  publicSignals: string[]
  commitments: InferenceCommitments
  /** The job binding the proof carries (decimal). */
  jobBinding: string
  quantizedInput: bigint[]
  /** The output vector the circuit computed (read from the witness), scale 2^s. */
  quantizedOutput: bigint[]
  output: number[]
  /** Time inside the child process: curve set-up, witness generation, and witness plus proof. */
  curveInitMs: number
  witnessMs: number
  proveMs: number
}

/**
 * Proves one inference in a child process. The integer reference runs first, so an input the circuit
 * cannot take (out of range) fails with a clear error before any proving, and the circuit's own output
 * is checked against it afterwards.
 */
export async function proveInference(params: ProveInferenceParameters): Promise<InferenceProof> {
  const { artifacts } = params
  const model: QuantizedMlp = deserializeQuantizedMlp(artifacts.model)
  let quantizedInput: bigint[]
  if (params.quantizedInput) quantizedInput = [...params.quantizedInput]
  else if (params.input) quantizedInput = quantizeInput(model, params.input)
  else throw new ZkError('ZK_BAD_INPUT', 'give an input or a quantizedInput')
  const jobBinding = checkJobBinding(params.jobBinding)
  const expected = quantizedForward(model, quantizedInput)
  const commitments: InferenceCommitments = {
    modelCommitment: artifacts.modelCommitment,
    inputCommitment: vectorCommitment(quantizedInput).toString(),
    outputCommitment: vectorCommitment(expected).toString(),
  }
  let result: ProveResult
  try {
    result = await runZkTask<ProveResult>(
      {
        op: 'prove',
        wasmPath: artifacts.wasmPath,
        zkeyPath: artifacts.zkeyPath,
        input: {
          ...commitments,
          jobBinding,
          x: quantizedInput.map((v) => signedToField(v).toString()),
        },
        witnessIndices: artifacts.outputWitnessIndices,
      },
      { signal: params.signal, timeoutMs: params.timeoutMs ?? defaultZkOptions.proveTimeoutMs },
    )
  } catch (cause) {
    if (cause instanceof ZkError && cause.code === 'ZK_ABORTED') throw cause
    throw new ZkError('ZK_PROVE_FAILED', 'proving the inference failed', {
      details: cause instanceof Error ? cause.message : String(cause),
      cause,
    })
  }
  const quantizedOutput = result.witnessValues.map((v) => fieldToSigned(BigInt(v)))
  if (quantizedOutput.some((v, i) => v !== expected[i])) {
    throw new ZkError('ZK_PROVE_FAILED', 'the circuit computed another output than the integer reference', {
      details: `circuit [${quantizedOutput.join(', ')}], reference [${expected.join(', ')}]`,
    })
  }
  const signals = publicSignalsOf(commitments, jobBinding)
  if (
    result.publicSignals.length !== signals.length ||
    result.publicSignals.some((s, i) => s !== signals[i])
  ) {
    throw new ZkError('ZK_PROVE_FAILED', 'the proof carries other public signals than the commitments')
  }
  return {
    proof: result.proof as Groth16Proof,
    publicSignals: result.publicSignals,
    commitments,
    jobBinding,
    quantizedInput,
    quantizedOutput,
    output: dequantize(model, quantizedOutput),
    curveInitMs: result.curveInitMs,
    witnessMs: result.witnessMs,
    proveMs: result.proveMs,
  }
}

/** The BN254 base field: coordinates of proof points live here. */
export const BN254_BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583n

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/

function parseDecimal(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !DECIMAL.test(value)) {
    throw new ZkError('ZK_BAD_PROOF', `${what} is not a decimal number`)
  }
  return BigInt(value)
}

/**
 * Checks the shape of public signals: exactly four (PUBLIC_SIGNAL_NAMES), decimal, each below the
 * scalar field modulus. A value p + x would otherwise alias x in the pairing check while reading
 * as another commitment.
 */
export function checkPublicSignals(publicSignals: unknown): string[] {
  if (!Array.isArray(publicSignals) || publicSignals.length !== PUBLIC_SIGNAL_NAMES.length) {
    throw new ZkError(
      'ZK_BAD_PROOF',
      `an inference proof has exactly ${PUBLIC_SIGNAL_NAMES.length} public signals (${PUBLIC_SIGNAL_NAMES.join(', ')})`,
      {
        details: 'a proof with three signals predates the job binding: prove it again with a rebuilt circuit',
      },
    )
  }
  return publicSignals.map((s, i) => {
    const v = parseDecimal(s, `public signal ${i}`)
    if (!isFieldElement(v)) {
      throw new ZkError('ZK_BAD_PROOF', `public signal ${i} is not below the BN254 scalar field modulus`, {
        details: `modulus ${BN254_SCALAR_FIELD}`,
      })
    }
    return v.toString()
  })
}

/** Checks the proof's encoding: Groth16 over bn128 with every coordinate in the base field. */
export function checkProofShape(proof: unknown): Groth16Proof {
  const p = proof as Partial<Groth16Proof> | null
  if (
    !p ||
    typeof p !== 'object' ||
    !Array.isArray(p.pi_a) ||
    !Array.isArray(p.pi_b) ||
    !Array.isArray(p.pi_c)
  ) {
    throw new ZkError('ZK_BAD_PROOF', 'the proof is not a Groth16 proof object')
  }
  if (p.protocol !== 'groth16' || p.curve !== 'bn128') {
    throw new ZkError('ZK_BAD_PROOF', 'the proof is not a Groth16 proof over bn128')
  }
  const coordinate = (value: unknown, what: string): string => {
    const v = parseDecimal(value, what)
    if (v >= BN254_BASE_FIELD) throw new ZkError('ZK_BAD_PROOF', `${what} is outside the base field`)
    return v.toString()
  }
  if (p.pi_a.length !== 3 || p.pi_c.length !== 3 || p.pi_b.length !== 3) {
    throw new ZkError('ZK_BAD_PROOF', 'the proof points have the wrong number of coordinates')
  }
  return {
    pi_a: p.pi_a.map((v, i) => coordinate(v, `pi_a[${i}]`)),
    pi_b: p.pi_b.map((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new ZkError('ZK_BAD_PROOF', `pi_b[${i}] is not a pair`)
      return pair.map((v, j) => coordinate(v, `pi_b[${i}][${j}]`))
    }),
    pi_c: p.pi_c.map((v, i) => coordinate(v, `pi_c[${i}]`)),
    protocol: 'groth16',
    curve: 'bn128',
  }
}

export interface VerifyInferenceProofParameters {
  /** The verification key object, or the artifacts whose key to use. */
  verificationKey?: unknown
  artifacts?: ZkCircuitArtifacts
  proof: unknown
  publicSignals: unknown
  /** Signals the caller expects; a mismatch makes the result invalid before any pairing. */
  expected?: Partial<InferenceCommitments & { jobBinding: string }>
  signal?: AbortSignal
  timeoutMs?: number
}

export interface VerifyInferenceProofResult {
  valid: boolean
  /** Why it is invalid, when it is. */
  reason: string | undefined
  verifyMs: number
}

/**
 * Verifies an inference proof off-chain (in a child process). Malformed proofs and signals throw
 * ZK_BAD_PROOF; well-formed ones that do not verify return `valid: false`. A valid proof is not a
 * unique id: Groth16 proofs are malleable, so key anything by the public signals, never the proof bytes.
 */
export async function verifyInferenceProof(
  params: VerifyInferenceProofParameters,
): Promise<VerifyInferenceProofResult> {
  const publicSignals = checkPublicSignals(params.publicSignals)
  const proof = checkProofShape(params.proof)
  for (const [i, name] of PUBLIC_SIGNAL_NAMES.entries()) {
    const want = params.expected?.[name]
    if (want !== undefined && want !== publicSignals[i]) {
      return { valid: false, reason: `${name} is not the expected one`, verifyMs: 0 }
    }
  }
  let verificationKey = params.verificationKey
  if (verificationKey === undefined) {
    if (!params.artifacts) throw new ZkError('ZK_ARTIFACTS', 'give a verificationKey or the artifacts')
    try {
      verificationKey = JSON.parse(await readFile(params.artifacts.verificationKeyPath, 'utf8'))
    } catch (cause) {
      throw new ZkError('ZK_ARTIFACTS', 'cannot read the verification key', { cause })
    }
  }
  const result = await runZkTask<VerifyResult>(
    { op: 'verify', verificationKey, publicSignals, proof },
    { signal: params.signal, timeoutMs: params.timeoutMs ?? defaultZkOptions.verifyTimeoutMs },
  )
  return {
    valid: result.valid,
    reason: result.valid ? undefined : 'the pairing check failed',
    verifyMs: result.verifyMs,
  }
}

/** Commitments a requester computes for its own input and a provider's claimed output. */
export function inferenceCommitments(
  artifacts: ZkCircuitArtifacts,
  quantizedInput: readonly bigint[],
  quantizedOutput: readonly bigint[],
): InferenceCommitments {
  return {
    modelCommitment: artifacts.modelCommitment,
    inputCommitment: vectorCommitment(quantizedInput).toString(),
    outputCommitment: vectorCommitment(quantizedOutput).toString(),
  }
}

/** An inference proof as JSON (for files, the CLI and the wire): integers as decimal strings. */
export interface InferenceProofJson {
  proof: Groth16Proof
  publicSignals: string[]
  commitments: InferenceCommitments
  jobBinding: string
  quantizedInput: string[]
  quantizedOutput: string[]
  output: number[]
}

export function inferenceProofToJson(proof: InferenceProof): InferenceProofJson {
  return {
    proof: proof.proof,
    publicSignals: proof.publicSignals,
    commitments: proof.commitments,
    jobBinding: proof.jobBinding,
    quantizedInput: proof.quantizedInput.map((v) => v.toString()),
    quantizedOutput: proof.quantizedOutput.map((v) => v.toString()),
    output: proof.output,
  }
}

const SIGNED_DECIMAL = /^-?(0|[1-9][0-9]{0,77})$/

/**
 * Reads an inference proof back from JSON, checking its shape (not its validity: verify it). The
 * commitments must be the public signals and must match the quantized input and output it carries.
 */
export function inferenceProofFromJson(
  json: unknown,
): Omit<InferenceProof, 'curveInitMs' | 'witnessMs' | 'proveMs'> {
  const j = json as Partial<InferenceProofJson> | null
  if (!j || typeof j !== 'object')
    throw new ZkError('ZK_BAD_PROOF', 'an inference proof must be a JSON object')
  const proof = checkProofShape(j.proof)
  const publicSignals = checkPublicSignals(j.publicSignals)
  const ints = (values: unknown, what: string): bigint[] => {
    if (!Array.isArray(values) || values.length > 1_000_000)
      throw new ZkError('ZK_BAD_PROOF', `${what} is not a list`)
    return values.map((v, i) => {
      if (typeof v !== 'string' || !SIGNED_DECIMAL.test(v)) {
        throw new ZkError('ZK_BAD_PROOF', `${what}[${i}] is not an integer`)
      }
      return BigInt(v)
    })
  }
  const quantizedInput = ints(j.quantizedInput, 'quantizedInput')
  const quantizedOutput = ints(j.quantizedOutput, 'quantizedOutput')
  const commitments: InferenceCommitments = {
    modelCommitment: publicSignals[0]!,
    inputCommitment: publicSignals[1]!,
    outputCommitment: publicSignals[2]!,
  }
  const jobBinding = publicSignals[3]!
  if (j.jobBinding !== undefined && j.jobBinding !== jobBinding) {
    throw new ZkError('ZK_BAD_PROOF', 'the job binding is not the fourth public signal')
  }
  if (vectorCommitment(quantizedInput).toString() !== commitments.inputCommitment) {
    throw new ZkError('ZK_BAD_PROOF', 'the quantized input does not match the input commitment')
  }
  if (vectorCommitment(quantizedOutput).toString() !== commitments.outputCommitment) {
    throw new ZkError('ZK_BAD_PROOF', 'the quantized output does not match the output commitment')
  }
  const output = Array.isArray(j.output) ? j.output.map(Number) : []
  return { proof, publicSignals, commitments, jobBinding, quantizedInput, quantizedOutput, output }
}
