/**
 * What the roles need for zk-mode jobs, kept apart from the replay path: the node's circuits
 * (folders `ocn zk build` made, by default under `<data-dir>/zk`), the input commitment a
 * requester puts in a zk offer's `inputHash`, and the provider's prove-and-settle step.
 *
 * A zk offer names the ONNX model by its content hash; the ZkVerifierRegistry maps that hash to
 * the model commitment and verifier, and a node has a circuit for the model exactly when one of
 * its circuits carries that commitment. No local table maps model hashes to circuits, so a
 * registry change can never leave a node proving for a stale commitment.
 */

import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  ContractsClientError,
  commitZkResult,
  getJob,
  getZkModel,
  getZkTerms,
  type ProtocolReadClient,
  type ProtocolWalletClient,
  registerZkModel,
  type WriteResult,
} from '@ocn/contracts-client'
import { zkJobBinding } from '@ocn/protocol'
import {
  ARTIFACTS_MANIFEST,
  compileGroth16Verifier,
  deserializeQuantizedMlp,
  type InferenceProof,
  listZkArtifacts,
  loadZkArtifacts,
  proveInference,
  quantizeInput,
  toGroth16CallArguments,
  vectorCommitment,
  type ZkCircuitArtifacts,
} from '@ocn/prover'
import { type Address, type Hash, type Hex, isAddressEqual, toHex } from 'viem'
import { deployContract, waitForTransactionReceipt } from 'viem/actions'
import type { ProgressReport } from '../core/progress.js'
import { decodeSafetensors } from '../executor/formats/safetensors.js'
import { type NamedTensors, typedView } from '../executor/tensor.js'
import { RoleError } from './errors.js'
import type { RoleComponents } from './shared.js'

/** The circuits a node can prove with, keyed by model commitment (decimal). */
export interface ZkCircuitIndex {
  readonly circuits: readonly ZkCircuitArtifacts[]
  byCommitment(modelCommitment: bigint | string): ZkCircuitArtifacts | undefined
}

/** The default place for a node's circuits: `ocn zk build` writes there unless given --cache-dir. */
export function defaultZkDir(dataDir: string): string {
  return join(dataDir, 'zk')
}

/**
 * Loads every circuit under `dirs`: each entry is either one circuit folder (holding
 * artifacts.json) or a cache folder as `ocn zk build --cache-dir` fills it. Unreadable
 * circuits are skipped and reported through `onSkip`, so one bad folder does not stop a node.
 */
export function loadZkCircuits(
  dirs: readonly string[],
  onSkip: (dir: string, error: unknown) => void = () => {},
): ZkCircuitIndex {
  const byCommitment = new Map<string, ZkCircuitArtifacts>()
  for (const dir of dirs) {
    const folders = existsSync(join(dir, ARTIFACTS_MANIFEST)) ? [dir] : listZkArtifacts(dir)
    for (const folder of folders) {
      try {
        const artifacts = loadZkArtifacts(folder)
        byCommitment.set(artifacts.modelCommitment, artifacts)
      } catch (error) {
        onSkip(folder, error)
      }
    }
  }
  return {
    circuits: [...byCommitment.values()],
    byCommitment: (c) => byCommitment.get(c.toString()),
  }
}

/**
 * The local circuit for the model a zk offer names, or why there is none: the registry must
 * know the model, and one of our circuits must carry its commitment.
 */
export async function circuitForModel(
  index: ZkCircuitIndex,
  client: ProtocolReadClient,
  zkVerifierRegistry: Address,
  modelHash: Hex,
): Promise<ZkCircuitArtifacts | string> {
  if (index.circuits.length === 0) return 'no zk circuits configured'
  const entry = await getZkModel(client, { zkVerifierRegistry, modelHash })
  if (entry === undefined) return 'the model has no zk verifier registered'
  return index.byCommitment(entry.modelCommitment) ?? 'no circuit for this model commitment'
}

export interface RegisterZkVerifierParameters {
  artifacts: ZkCircuitArtifacts
  /** The SHA-256 content hash of the ONNX file: what offers name the model by. */
  modelHash: Hex
  zkVerifierRegistry: Address
}

export interface RegisterZkVerifierResult {
  verifier: Address
  deployTx: Hex
  registerTx: Hex
}

/**
 * Deploys a circuit's exported Groth16 verifier and registers it with the model's commitment in
 * the ZkVerifierRegistry. The client must hold the registry's admin role. Compiling runs in the
 * prover's child process (cached next to the keys).
 */
export async function registerZkVerifier(
  client: ProtocolWalletClient,
  { artifacts, modelHash, zkVerifierRegistry }: RegisterZkVerifierParameters,
): Promise<RegisterZkVerifierResult> {
  const { abi, bytecode } = await compileGroth16Verifier(artifacts)
  const deployTx = await deployContract(client, {
    abi,
    bytecode,
    account: client.account,
    chain: client.chain,
  } as Parameters<typeof deployContract>[1])
  const receipt = await waitForTransactionReceipt(client, { hash: deployTx, timeout: 60_000 })
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new ContractsClientError('DEPLOYMENT', 'deploying the Groth16 verifier failed', {
      details: `transaction ${deployTx}`,
    })
  }
  const verifier = receipt.contractAddress
  const { hash: registerTx } = await registerZkModel(client, {
    zkVerifierRegistry,
    modelHash,
    modelCommitment: BigInt(artifacts.modelCommitment),
    verifier,
  })
  return { verifier, deployTx, registerTx }
}

/** The one input sample of a zk job as floats: one tensor holding exactly the circuit's input size. */
export function zkInputVector(artifacts: ZkCircuitArtifacts, inputs: NamedTensors): number[] {
  const names = Object.keys(inputs)
  if (names.length !== 1) {
    throw new RoleError('ROLE_INVALID_PARAMS', `a zk job takes one input tensor, not ${names.length}`)
  }
  const tensor = inputs[names[0]!]!
  const values = Array.from(typedView(tensor) as ArrayLike<number | bigint>, Number)
  if (values.length !== artifacts.model.inputSize) {
    throw new RoleError('ROLE_INPUT_MISMATCH', 'the input does not fit the zk circuit', {
      details: `${values.length} values of shape [${tensor.dims.join(', ')}]; the circuit takes one sample of ${artifacts.model.inputSize}`,
    })
  }
  return values
}

/** The input commitment (Poseidon of the quantized input) as the bytes32 a zk offer's inputHash holds. */
export function zkInputCommitment(artifacts: ZkCircuitArtifacts, inputs: NamedTensors): Hex {
  const model = deserializeQuantizedMlp(artifacts.model)
  const quantized = quantizeInput(model, zkInputVector(artifacts, inputs))
  return toHex(vectorCommitment(quantized), { size: 32 })
}

export interface ProveZkJobParameters {
  client: ProtocolWalletClient
  jobMarket: Address
  jobId: Hex
  artifacts: ZkCircuitArtifacts
  inputs: NamedTensors
  /**
   * Runs the commit transaction (the chain service serializes a node's transactions), with
   * the proof in hand before it is sent (the provider stores it first, to survive a crash);
   * `write` calls `onSent` with the hash before it waits for the receipt.
   */
  send?: (
    write: (onSent?: (hash: Hash) => Promise<void>) => Promise<WriteResult>,
    proof: InferenceProof,
  ) => Promise<WriteResult>
  signal?: AbortSignal
  /** `proving` progress: witness and proof, then the commit transaction */
  progress?: ProgressReport
}

export interface ProveZkJobResult {
  proof: InferenceProof
  txHash: Hex
}

/**
 * Proves the job's inference in the prover's child process and settles it with commitZkResult.
 * The award bound the model and input commitments; both are checked against the chain first,
 * so a mismatch fails here rather than as a reverted transaction. The proof is bound to this
 * job and this node's address (the job binding, which commitZkResult recomputes from the job),
 * so it settles nothing else and is worthless to anyone who copies it.
 */
export async function proveZkJob(params: ProveZkJobParameters): Promise<ProveZkJobResult> {
  const { client, jobMarket, jobId, artifacts } = params
  const terms = await getZkTerms(client, { jobMarket, jobId })
  if (terms === undefined) throw new RoleError('ROLE_INVALID_PARAMS', `job ${jobId} is not a zk-mode job`)
  if (terms.modelCommitment.toString() !== artifacts.modelCommitment) {
    throw new RoleError('ROLE_INPUT_MISMATCH', 'the circuit is not for the model the job was awarded with')
  }
  // checked before proving: a proof bound to another provider's job could never settle
  const { provider } = await getJob(client, { jobMarket, jobId })
  if (!isAddressEqual(provider, client.account.address)) {
    throw new RoleError('ROLE_INVALID_PARAMS', `job ${jobId} was awarded to ${provider}, not to this node`, {
      details: `this node signs as ${client.account.address}; only the awarded provider can settle the job`,
    })
  }
  const stage = (done: number) =>
    params.progress?.({
      jobId,
      stage: 'proving',
      unit: 'stages',
      label: 'groth16',
      done,
      total: 2,
      ...(done === 2 ? { finished: true } : {}),
    })
  stage(0)
  const proof = await proveInference({
    artifacts,
    input: zkInputVector(artifacts, params.inputs),
    jobBinding: zkJobBinding(jobId, provider),
    ...(params.signal === undefined ? {} : { signal: params.signal }),
  })
  if (BigInt(proof.commitments.inputCommitment) !== terms.inputCommitment) {
    throw new RoleError('ROLE_INPUT_MISMATCH', 'the fetched input is not the one the award committed to')
  }
  const args = toGroth16CallArguments(proof.proof, proof.publicSignals)
  const write = (onSent?: (hash: Hash) => Promise<void>) =>
    commitZkResult(client, {
      ...(onSent === undefined ? {} : { onSent }),
      jobMarket,
      jobId,
      proof: { a: args.a, b: args.b, c: args.c },
      inputCommitment: BigInt(proof.commitments.inputCommitment),
      outputCommitment: BigInt(proof.commitments.outputCommitment),
    })
  stage(1)
  const { hash } = params.send === undefined ? await write() : await params.send(write, proof)
  stage(2)
  return { proof, txHash: hash }
}

/**
 * Fetches a zk job's inputs file named by the spec's `zkInput` (the offer's inputHash is the
 * Poseidon commitment, which the artifact protocol cannot serve) and decodes it.
 */
export async function fetchZkInputs(
  components: Pick<RoleComponents, 'store' | 'network'>,
  zkInput: Hex | undefined,
  peers: readonly string[],
  options: { signal?: AbortSignal } = {},
): Promise<NamedTensors> {
  if (zkInput === undefined) {
    throw new RoleError('ROLE_INVALID_PARAMS', 'the zk job spec names no inputs file (spec.zkInput)')
  }
  const { store, network } = components
  const hash = zkInput.toLowerCase() as Hex
  if (!(await store.has(hash))) {
    if (peers.length === 0) throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `no peer known to serve ${hash}`)
    await network.artifacts.fetch(hash, peers, options.signal ? { signal: options.signal } : {})
  }
  return decodeSafetensors(await store.getBytes(hash)).tensors
}
