/**
 * `ocn zk build|prove|verify|register`: zero-knowledge proofs of inference from the command line.
 * The heavy work (circom, the Groth16 setup, proving, verifying, solc) runs in the prover's child
 * processes; these commands read files, show progress and turn prover errors into user errors.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { NodeError, readTensorFiles, registerZkVerifier, typedView } from '@ocn/node'
import { contentHashOf, zkJobBinding } from '@ocn/protocol'
import {
  buildZkCircuit,
  inferenceProofFromJson,
  inferenceProofToJson,
  loadZkArtifacts,
  proveInference,
  verifyInferenceProof,
  type ZkCircuitArtifacts,
  ZkError,
} from '@ocn/prover'
import { type Hex, isAddress, isHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { type Command, type CommandContext, stringFlag } from '../command.js'
import { loadConfigFor } from '../context.js'
import { CliError, EXIT_FAILURE } from '../errors.js'
import { createStageProgress } from '../progress.js'
import { loadKeysFor, passphraseFlag } from './account.js'
import { openChain, toChainCommandError } from './chain-access.js'

export type ZkCommandErrorCode = 'ZK_COMMAND_FAILED' | 'ZK_COMMAND_INPUT' | 'ZK_COMMAND_ADMIN_KEY'

/** A zk command failed on the user's input (a model, a circuit folder, an input file, a key). */
export class ZkCommandError extends NodeError<ZkCommandErrorCode> {
  override name = 'ZkCommandError'
}

/** The input tensor file may hold one sample; anything larger is not an MLP input. */
const MAX_INPUT_BYTES = 16 * 1024 * 1024

/** Prover errors become user errors carrying the prover's code in the details. */
function fromZkError(error: unknown): unknown {
  if (error instanceof ZkError) {
    return new ZkCommandError('ZK_COMMAND_FAILED', error.shortMessage, {
      cause: error,
      details: `${error.code}${error.details === undefined ? '' : `: ${error.details}`}`,
    })
  }
  return error
}

function requireFlag(context: CommandContext, name: string, usage: string): string {
  const value = stringFlag(context.flags, name)
  if (value === undefined || value === '')
    throw new CliError('CLI_USAGE', `--${name} is required; usage: ${usage}`)
  return value
}

/** The circuits of this node live in `<data-dir>/zk` unless `--cache-dir` says otherwise. */
export async function zkCacheDirFor(context: CommandContext): Promise<string> {
  const given = stringFlag(context.flags, 'cache-dir')
  if (given !== undefined) return resolve(context.io.cwd, given)
  const { config } = await loadConfigFor(context)
  return join(config.dataDir, 'zk')
}

function loadCircuit(context: CommandContext, usage: string): ZkCircuitArtifacts {
  const dir = resolve(context.io.cwd, requireFlag(context, 'circuit', usage))
  try {
    return loadZkArtifacts(dir)
  } catch (error) {
    throw fromZkError(error)
  }
}

/** Reads one float input vector from a .npy or .safetensors file (a single tensor of one sample). */
export async function readZkInput(path: string, inputSize: number): Promise<number[]> {
  let tensors: Awaited<ReturnType<typeof readTensorFiles>>
  try {
    tensors = await readTensorFiles([path], { maxBytes: MAX_INPUT_BYTES })
  } catch (cause) {
    throw new ZkCommandError('ZK_COMMAND_INPUT', `cannot read the input file ${path}`, {
      cause,
      details: cause instanceof Error ? cause.message : String(cause),
    })
  }
  const names = Object.keys(tensors)
  if (names.length !== 1) {
    throw new ZkCommandError('ZK_COMMAND_INPUT', `${path} holds ${names.length} tensors, not one input`)
  }
  const tensor = tensors[names[0]!]!
  const values = Array.from(typedView(tensor) as ArrayLike<number | bigint>, Number)
  if (values.length !== inputSize) {
    throw new ZkCommandError(
      'ZK_COMMAND_INPUT',
      `the input has ${values.length} values; the circuit takes one sample of ${inputSize}`,
      { details: `tensor ${names[0]} of shape [${tensor.dims.join(', ')}]` },
    )
  }
  return values
}

const buildUsage = 'ocn zk build --model <onnx> [--scale-bits N] [--ptau <file>] [--cache-dir <dir>]'

export const zkBuildCommand: Command = {
  path: ['zk', 'build'],
  summary:
    'quantize an ONNX MLP, generate and compile its circuit, run the Groth16 setup, export the verifier',
  usage: buildUsage,
  configFlags: false,
  maxPositionals: 0,
  flags: {
    model: { type: 'string', value: '<onnx>', description: 'a dense ReLU MLP (Gemm, or MatMul + Add)' },
    'scale-bits': { type: 'string', value: '<N>', description: 'fixed-point fraction bits (default 8)' },
    ptau: {
      type: 'string',
      value: '<file>',
      description: 'a powers-of-tau file from a public ceremony (default: a local one, for testing)',
    },
    'cache-dir': {
      type: 'string',
      value: '<dir>',
      description: 'where circuits and keys are kept (default <data-dir>/zk)',
    },
  },
  async run(context) {
    const modelPath = resolve(context.io.cwd, requireFlag(context, 'model', buildUsage))
    const scaleText = stringFlag(context.flags, 'scale-bits')
    let scaleBits: number | undefined
    if (scaleText !== undefined) {
      scaleBits = Number(scaleText)
      if (!Number.isInteger(scaleBits) || scaleBits < 1 || scaleBits > 32) {
        throw new CliError('CLI_USAGE', `--scale-bits must be an integer from 1 to 32 (got "${scaleText}")`)
      }
    }
    const ptau = stringFlag(context.flags, 'ptau')
    const cacheDir = await zkCacheDirFor(context)
    // a bar over the stages on a terminal, a numbered line per event elsewhere, nothing with --json
    const progress = createStageProgress({
      stream: context.io.stderr,
      label: 'zk build',
      stages: ['quantize', 'generate', 'compile', 'ptau', 'setup', 'done'],
      silent: context.json,
    })
    let built: Awaited<ReturnType<typeof buildZkCircuit>>
    try {
      built = await buildZkCircuit({
        modelPath,
        cacheDir,
        ...(scaleBits === undefined ? {} : { scaleBits }),
        ...(ptau === undefined ? {} : { ptauPath: resolve(context.io.cwd, ptau) }),
        onProgress: (event) => progress.update(event.stage, event.message),
      })
    } catch (error) {
      throw fromZkError(error)
    } finally {
      progress.finish()
    }
    const { artifacts } = built
    const json = {
      circuitDir: artifacts.dir,
      modelHash: contentHashOf(new Uint8Array(await readFile(modelPath))),
      modelCommitment: artifacts.modelCommitment,
      constraints: artifacts.constraints,
      scaleBits: artifacts.model.scaleBits,
      inputSize: artifacts.model.inputSize,
      outputSize: artifacts.model.outputSize,
      verifierSolidity: artifacts.solidityVerifierPath,
      verificationKey: artifacts.verificationKeyPath,
      ptau: { source: artifacts.ptau.source, power: artifacts.ptau.power ?? null },
      cached: built.cached,
    }
    return {
      json,
      text: [
        `circuit          ${artifacts.dir}`,
        `model commitment ${artifacts.modelCommitment}`,
        `constraints      ${artifacts.constraints}`,
        `verifier         ${artifacts.solidityVerifierPath}`,
        artifacts.ptau.source === 'local'
          ? 'note: the setup used a local single-contributor powers of tau; use --ptau with a public ceremony file for a real deployment'
          : '',
      ]
        .filter((l) => l !== '')
        .join('\n'),
    }
  },
}

const proveUsage =
  'ocn zk prove --circuit <dir> --inputs <file.npy|file.safetensors> --out <proof.json> [--job-id <0x...> --provider <0x...>]'

/**
 * The job binding a proof carries: `zkJobBinding(jobId, provider)` when both flags are given (a
 * proof that settles exactly that job by that provider), else 0, a proof that settles no job.
 */
function jobBindingFor(context: CommandContext): bigint {
  const jobId = stringFlag(context.flags, 'job-id')
  const provider = stringFlag(context.flags, 'provider')
  if (jobId === undefined && provider === undefined) return 0n
  if (jobId === undefined || !isHex(jobId) || jobId.length !== 66) {
    throw new CliError(
      'CLI_USAGE',
      `--job-id must be a 32-byte hex job id next to --provider; usage: ${proveUsage}`,
    )
  }
  if (provider === undefined || !isAddress(provider, { strict: false })) {
    throw new CliError(
      'CLI_USAGE',
      `--provider must be the job's provider address next to --job-id; usage: ${proveUsage}`,
    )
  }
  return zkJobBinding(jobId, provider)
}

export const zkProveCommand: Command = {
  path: ['zk', 'prove'],
  summary: 'prove one inference of a built circuit on an input file',
  usage: proveUsage,
  configFlags: false,
  maxPositionals: 0,
  flags: {
    circuit: { type: 'string', value: '<dir>', description: 'the circuit folder `ocn zk build` printed' },
    inputs: { type: 'string', value: '<file>', description: 'one input sample (.npy or .safetensors)' },
    out: { type: 'string', value: '<file>', description: 'where to write the proof JSON' },
    'job-id': {
      type: 'string',
      value: '<0x...>',
      description: 'bind the proof to this job (with --provider)',
    },
    provider: { type: 'string', value: '<0x...>', description: "the job's provider address (with --job-id)" },
  },
  async run(context) {
    const jobBinding = jobBindingFor(context)
    const artifacts = loadCircuit(context, proveUsage)
    const inputsPath = resolve(context.io.cwd, requireFlag(context, 'inputs', proveUsage))
    const outPath = resolve(context.io.cwd, requireFlag(context, 'out', proveUsage))
    const input = await readZkInput(inputsPath, artifacts.model.inputSize)
    let proof: Awaited<ReturnType<typeof proveInference>>
    try {
      proof = await proveInference({ artifacts, input, jobBinding })
    } catch (error) {
      throw fromZkError(error)
    }
    await writeFile(outPath, `${JSON.stringify(inferenceProofToJson(proof), null, 1)}\n`)
    return {
      json: {
        proof: outPath,
        publicSignals: proof.publicSignals,
        commitments: proof.commitments,
        jobBinding: proof.jobBinding,
        output: proof.output,
        proveMs: Math.round(proof.proveMs),
      },
      text: [
        `proof            ${outPath}`,
        `output           [${proof.output.join(', ')}]`,
        `input commitment ${proof.commitments.inputCommitment}`,
        `output commitment ${proof.commitments.outputCommitment}`,
        `job binding      ${jobBinding === 0n ? '0 (no --job-id/--provider: settles no job)' : proof.jobBinding}`,
      ].join('\n'),
    }
  },
}

const verifyUsage = 'ocn zk verify --circuit <dir> --proof <proof.json>'

export const zkVerifyCommand: Command = {
  path: ['zk', 'verify'],
  summary: 'verify an inference proof off-chain (exit 0 valid, 1 invalid, 2 usage error)',
  usage: verifyUsage,
  configFlags: false,
  maxPositionals: 0,
  flags: {
    circuit: { type: 'string', value: '<dir>', description: 'the circuit folder the proof is for' },
    proof: { type: 'string', value: '<file>', description: 'a proof JSON from `ocn zk prove`' },
  },
  async run(context) {
    const artifacts = loadCircuit(context, verifyUsage)
    const proofPath = resolve(context.io.cwd, requireFlag(context, 'proof', verifyUsage))
    let json: unknown
    try {
      json = JSON.parse(await readFile(proofPath, 'utf8'))
    } catch (cause) {
      throw new ZkCommandError('ZK_COMMAND_INPUT', `cannot read the proof JSON ${proofPath}`, {
        cause,
        details: cause instanceof Error ? cause.message : String(cause),
      })
    }
    const invalid = (reason: string) => ({
      json: { valid: false, reason },
      text: `invalid: ${reason}`,
      exitCode: EXIT_FAILURE,
    })
    let parsed: ReturnType<typeof inferenceProofFromJson>
    try {
      parsed = inferenceProofFromJson(json)
    } catch (error) {
      // A malformed or inconsistent proof is an invalid proof, not a usage mistake.
      if (error instanceof ZkError) return invalid(error.shortMessage)
      throw error
    }
    let result: Awaited<ReturnType<typeof verifyInferenceProof>>
    try {
      result = await verifyInferenceProof({
        artifacts,
        proof: parsed.proof,
        publicSignals: parsed.publicSignals,
        expected: { modelCommitment: artifacts.modelCommitment },
      })
    } catch (error) {
      if (error instanceof ZkError && error.code === 'ZK_BAD_PROOF') return invalid(error.shortMessage)
      throw fromZkError(error)
    }
    if (!result.valid) return invalid(result.reason ?? 'the proof does not verify')
    return {
      json: { valid: true, commitments: parsed.commitments, output: parsed.output },
      text: `valid: output [${parsed.output.join(', ')}] for model commitment ${parsed.commitments.modelCommitment}`,
    }
  },
}

const registerUsage =
  'ocn zk register --circuit <dir> --model <onnx> [--admin-key-file <file>] [--rpc-url <url>] [--deployment <file>]'

/** The registry's admin signs: a key file (hex private key), or else the node's own key. */
async function adminAccount(context: CommandContext, dataDir: string) {
  const file = stringFlag(context.flags, 'admin-key-file')
  if (file === undefined) return (await loadKeysFor(context, dataDir)).account
  let text: string
  try {
    text = (await readFile(resolve(context.io.cwd, file), 'utf8')).trim()
  } catch (cause) {
    throw new ZkCommandError('ZK_COMMAND_ADMIN_KEY', `cannot read the admin key file ${file}`, { cause })
  }
  const hex = (text.startsWith('0x') ? text : `0x${text}`) as Hex
  if (!isHex(hex) || hex.length !== 66) {
    throw new ZkCommandError('ZK_COMMAND_ADMIN_KEY', `${file} does not hold a 32-byte hex private key`)
  }
  return privateKeyToAccount(hex)
}

export const zkRegisterCommand: Command = {
  path: ['zk', 'register'],
  summary: "deploy a circuit's Groth16 verifier and register it for the model in the ZkVerifierRegistry",
  usage: registerUsage,
  configFlags: true,
  maxPositionals: 0,
  flags: {
    circuit: { type: 'string', value: '<dir>', description: 'the circuit folder `ocn zk build` printed' },
    model: { type: 'string', value: '<onnx>', description: 'the ONNX file (its hash is the model id)' },
    'admin-key-file': {
      type: 'string',
      value: '<file>',
      description: "the registry admin's hex private key (default: the node's key)",
    },
    ...passphraseFlag,
  },
  async run(context) {
    const artifacts = loadCircuit(context, registerUsage)
    const modelPath = resolve(context.io.cwd, requireFlag(context, 'model', registerUsage))
    let modelHash: Hex
    try {
      modelHash = contentHashOf(new Uint8Array(await readFile(modelPath)))
    } catch (cause) {
      throw new ZkCommandError('ZK_COMMAND_INPUT', `cannot read the model file ${modelPath}`, { cause })
    }
    const { config } = await loadConfigFor(context)
    const account = await adminAccount(context, config.dataDir)
    const access = await openChain(config, account)
    let registered: Awaited<ReturnType<typeof registerZkVerifier>>
    try {
      registered = await registerZkVerifier(access.client, {
        artifacts,
        modelHash,
        zkVerifierRegistry: access.deployment.addresses.zkVerifierRegistry,
      })
    } catch (cause) {
      // compiling the verifier is the prover's work; the rest is the chain's
      if (cause instanceof ZkError) throw fromZkError(cause)
      throw toChainCommandError(cause, access)
    }
    const { verifier, registerTx: registration } = registered
    return {
      json: { modelHash, modelCommitment: artifacts.modelCommitment, verifier, transaction: registration },
      text: [
        `model      ${modelHash}`,
        `commitment ${artifacts.modelCommitment}`,
        `verifier   ${verifier}`,
        `registered (transaction ${registration})`,
      ].join('\n'),
    }
  },
}

export const zkCommands: readonly Command[] = [
  zkBuildCommand,
  zkProveCommand,
  zkVerifyCommand,
  zkRegisterCommand,
]
