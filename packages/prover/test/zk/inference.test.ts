import { type DevChain, startDevChain } from '@ocn/contracts-client'
import { zkJobBinding } from '@ocn/protocol'
import { createPublicClient, createWalletClient, type Hex, http, type PublicClient } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildMlpModel, encodeOnnxModel } from '../../src/onnx/index.js'
import {
  type BuildZkCircuitResult,
  buildZkCircuit,
  compileGroth16Verifier,
  deserializeQuantizedMlp,
  encodeVerifyProofCall,
  type InferenceProof,
  inferenceProofFromJson,
  inferenceProofToJson,
  loadZkArtifacts,
  proveInference,
  quantizedForward,
  quantizeInput,
  verifyInferenceProof,
  verifyProofOnChain,
  ZkError,
} from '../../src/zk/index.js'
import { runZkTask } from '../../src/zk/worker-client.js'
import { quantizedOnnxGraph, randomInputs, randomMlp, runOrt, TEST_CACHE_DIR } from './helpers.js'

/**
 * One 16-16-4 MLP end to end: ONNX file -> quantization -> circuit -> Groth16 keys -> proofs checked
 * off-chain by snarkjs and on-chain by the exported Solidity verifier on a real anvil.
 *
 * What "the circuit's output equals ONNX Runtime's" means here: the quantized integer model is run by
 * ONNX Runtime as a float64 graph (MatMul, Add, Div by 2^s, Floor, Relu) whose every intermediate is
 * an integer below 2^53, so ORT's arithmetic is exact; the output the circuit computed (read from the
 * witness) must equal it, integer for integer. The float model in ORT is compared with the dequantized
 * output against the accuracy loss measured by the quantizer.
 */
describe('zk proof of inference, 16-16-4 MLP', () => {
  const mlp = randomMlp([16, 16, 4], 11)
  const otherMlp = randomMlp([16, 16, 4], 12)
  const inputs = randomInputs(8, 16, 5)
  let built: BuildZkCircuitResult
  let other: BuildZkCircuitResult
  let proof: InferenceProof
  let chain: DevChain
  let client: PublicClient
  let verifier: Hex
  let otherVerifier: Hex
  const modelPath = `${TEST_CACHE_DIR}/test-mlp-16-16-4.onnx`
  // what a provider proves with: its job id and address hashed into the field
  const jobBinding = zkJobBinding(`0x${'ab'.repeat(32)}`, `0x${'cd'.repeat(20)}`)
  const otherBinding = zkJobBinding(`0x${'ab'.repeat(32)}`, `0x${'ce'.repeat(20)}`)

  beforeAll(async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs')
    mkdirSync(TEST_CACHE_DIR, { recursive: true })
    writeFileSync(modelPath, encodeOnnxModel(buildMlpModel(mlp, { style: 'matmul-add' })))
    built = await buildZkCircuit({ modelPath, cacheDir: TEST_CACHE_DIR, calibrationInputs: inputs })
    other = await buildZkCircuit({ model: otherMlp, cacheDir: TEST_CACHE_DIR })
    proof = await proveInference({ artifacts: built.artifacts, input: inputs[0]!, jobBinding })

    chain = await startDevChain()
    client = createPublicClient({ chain: chain.chain, transport: http(chain.rpcUrl) }) as PublicClient
    const wallet = createWalletClient({
      account: chain.accounts[0]!,
      chain: chain.chain,
      transport: http(chain.rpcUrl),
    })
    const deploy = async (result: BuildZkCircuitResult): Promise<Hex> => {
      const { abi, bytecode } = await compileGroth16Verifier(result.artifacts)
      const hash = await wallet.deployContract({ abi, bytecode })
      const receipt = await client.waitForTransactionReceipt({ hash })
      if (!receipt.contractAddress) throw new Error('verifier deployment failed')
      return receipt.contractAddress
    }
    verifier = await deploy(built)
    otherVerifier = await deploy(other)
    // a first run on a fresh cache also generates the powers of tau (about a minute on 2 cores)
  }, 600_000)

  afterAll(async () => {
    await chain?.stop()
  })

  const verifyOnChain = (address: Hex, p: unknown, signals: unknown): Promise<boolean> =>
    verifyProofOnChain(client, address, p, signals)

  it('reads the ONNX file and reports the quantization loss', () => {
    expect(built.artifacts.constraints).toBeGreaterThan(1000)
    expect(built.artifacts.publicSignalCount).toBe(4)
    expect(built.accuracy?.samples).toBe(8)
    expect(built.accuracy!.maxAbsError).toBeLessThan(0.1)
    expect(loadZkArtifacts(built.artifacts.dir)).toEqual(built.artifacts)
  })

  it('computes in the circuit exactly what ONNX Runtime computes for the quantized model', async () => {
    const model = deserializeQuantizedMlp(built.artifacts.model)
    const quantizedInputs = inputs.map((x) => quantizeInput(model, x).map(Number))
    const ort = await runOrt(quantizedOnnxGraph(model), quantizedInputs, 'float64')
    // ORT and the integer reference agree on every random input ...
    inputs.forEach((x, i) => {
      expect(ort[i]).toEqual(quantizedForward(model, quantizeInput(model, x)).map(Number))
    })
    // ... and the circuit's own output (from the witness) is ORT's, for the proven input and a second one
    expect(proof.quantizedOutput.map(Number)).toEqual(ort[0])
    const second = await proveInference({ artifacts: built.artifacts, input: inputs[1]!, jobBinding })
    expect(second.quantizedOutput.map(Number)).toEqual(ort[1])
    // The float model in ORT lies within the measured quantization loss of the proven output.
    const float = await runOrt(encodeOnnxModel(buildMlpModel(mlp)), [inputs[0]!], 'float32')
    float[0]!.forEach((v, i) => {
      expect(Math.abs(v - proof.output[i]!)).toBeLessThanOrEqual(built.accuracy!.maxAbsError + 1e-4)
    })
  })

  it('verifies off-chain and on-chain, also after a trip through JSON', async () => {
    const restored = inferenceProofFromJson(JSON.parse(JSON.stringify(inferenceProofToJson(proof))))
    expect(restored.quantizedOutput).toEqual(proof.quantizedOutput)
    expect(restored.jobBinding).toBe(jobBinding.toString())
    expect(restored.publicSignals).toEqual([
      built.artifacts.modelCommitment,
      proof.commitments.inputCommitment,
      proof.commitments.outputCommitment,
      jobBinding.toString(),
    ])
    const result = await verifyInferenceProof({
      artifacts: built.artifacts,
      proof: restored.proof,
      publicSignals: restored.publicSignals,
      expected: { modelCommitment: built.artifacts.modelCommitment },
    })
    expect(result.valid).toBe(true)
    expect(await verifyOnChain(verifier, proof.proof, proof.publicSignals)).toBe(true)
  })

  it('fails with any one public signal altered, the job binding included, off-chain and on-chain', async () => {
    for (let i = 0; i < 4; i++) {
      const altered = [...proof.publicSignals]
      altered[i] = (BigInt(altered[i]!) + 1n).toString()
      const result = await verifyInferenceProof({
        artifacts: built.artifacts,
        proof: proof.proof,
        publicSignals: altered,
      })
      expect(result.valid).toBe(false)
      expect(await verifyOnChain(verifier, proof.proof, altered)).toBe(false)
    }
  })

  it('binds the proof to its job and provider: the same inference proven for another binding', async () => {
    const rebound = await proveInference({
      artifacts: built.artifacts,
      input: inputs[0]!,
      jobBinding: otherBinding,
    })
    // same commitments, only the binding differs ...
    expect(rebound.publicSignals.slice(0, 3)).toEqual(proof.publicSignals.slice(0, 3))
    expect(rebound.publicSignals[3]).toBe(otherBinding.toString())
    // ... and neither proof verifies with the other's binding
    for (const [p, signals] of [
      [proof.proof, rebound.publicSignals],
      [rebound.proof, proof.publicSignals],
    ] as const) {
      const result = await verifyInferenceProof({
        artifacts: built.artifacts,
        proof: p,
        publicSignals: signals,
      })
      expect(result.valid).toBe(false)
      expect(await verifyOnChain(verifier, p, signals)).toBe(false)
    }
    expect(await verifyOnChain(verifier, rebound.proof, rebound.publicSignals)).toBe(true)
    // a caller expecting a binding rejects another before any pairing
    const expected = await verifyInferenceProof({
      artifacts: built.artifacts,
      proof: proof.proof,
      publicSignals: proof.publicSignals,
      expected: { jobBinding: otherBinding.toString() },
    })
    expect(expected).toMatchObject({ valid: false, reason: 'jobBinding is not the expected one' })
  })

  it('refuses a binding outside the field and a proof with the three signals of old circuits', async () => {
    await expect(
      proveInference({
        artifacts: built.artifacts,
        input: inputs[0]!,
        jobBinding: 21888242871839275222246405745257275088548364400416034343698204186575808495617n,
      }),
    ).rejects.toMatchObject({ code: 'ZK_BAD_INPUT' })
    await expect(
      verifyInferenceProof({
        artifacts: built.artifacts,
        proof: proof.proof,
        publicSignals: proof.publicSignals.slice(0, 3),
      }),
    ).rejects.toMatchObject({ code: 'ZK_BAD_PROOF' })
    const json = inferenceProofToJson(proof)
    json.jobBinding = otherBinding.toString()
    expect(() => inferenceProofFromJson(json)).toThrow(expect.objectContaining({ code: 'ZK_BAD_PROOF' }))
  })

  it('refuses JSON whose output does not match its output commitment', () => {
    const json = inferenceProofToJson(proof)
    json.quantizedOutput[0] = (BigInt(json.quantizedOutput[0]!) + 1n).toString()
    expect(() => inferenceProofFromJson(json)).toThrow(expect.objectContaining({ code: 'ZK_BAD_PROOF' }))
  })

  it('rejects public signals outside the field instead of reducing them', async () => {
    const aliased = [...proof.publicSignals]
    aliased[1] = (
      BigInt(aliased[1]!) + 21888242871839275222246405745257275088548364400416034343698204186575808495617n
    ).toString()
    await expect(
      verifyInferenceProof({ artifacts: built.artifacts, proof: proof.proof, publicSignals: aliased }),
    ).rejects.toMatchObject({ code: 'ZK_BAD_PROOF' })
    await expect(
      verifyInferenceProof({ artifacts: built.artifacts, proof: proof.proof, publicSignals: ['1', '2'] }),
    ).rejects.toBeInstanceOf(ZkError)
  })

  it('does not verify against another model', async () => {
    expect(other.artifacts.modelCommitment).not.toBe(built.artifacts.modelCommitment)
    // this proof with the other model's commitment swapped in
    const swapped = [other.artifacts.modelCommitment, ...proof.publicSignals.slice(1)]
    expect(
      (await verifyInferenceProof({ artifacts: built.artifacts, proof: proof.proof, publicSignals: swapped }))
        .valid,
    ).toBe(false)
    expect(await verifyOnChain(verifier, proof.proof, swapped)).toBe(false)
    // the other model's verifier, with either commitment
    for (const signals of [proof.publicSignals, swapped]) {
      expect(
        (
          await verifyInferenceProof({
            artifacts: other.artifacts,
            proof: proof.proof,
            publicSignals: signals,
          })
        ).valid,
      ).toBe(false)
      expect(await verifyOnChain(otherVerifier, proof.proof, signals)).toBe(false)
    }
    // and the circuit has no witness that claims the other model's commitment
    const model = deserializeQuantizedMlp(built.artifacts.model)
    await expect(
      runZkTask({
        op: 'prove',
        wasmPath: built.artifacts.wasmPath,
        zkeyPath: built.artifacts.zkeyPath,
        input: {
          modelCommitment: other.artifacts.modelCommitment,
          inputCommitment: proof.publicSignals[1]!,
          outputCommitment: proof.publicSignals[2]!,
          jobBinding: proof.publicSignals[3]!,
          x: quantizeInput(model, inputs[0]!).map((v) => v.toString()),
        },
        witnessIndices: [],
      }),
    ).rejects.toMatchObject({ code: 'ZK_WORKER_FAILED' })
  })

  it('stops a prove when its signal aborts, and reports a bad ptau file as a setup failure', async () => {
    const controller = new AbortController()
    const pending = proveInference({
      artifacts: built.artifacts,
      input: inputs[2]!,
      jobBinding,
      signal: controller.signal,
    })
    setTimeout(() => controller.abort(), 50)
    await expect(pending).rejects.toMatchObject({ code: 'ZK_ABORTED' })
    const { writeFileSync } = await import('node:fs')
    const bogus = `${TEST_CACHE_DIR}/not-a-ceremony.ptau`
    writeFileSync(bogus, 'this is not a powers of tau file')
    await expect(
      buildZkCircuit({ model: mlp, cacheDir: TEST_CACHE_DIR, ptauPath: bogus }),
    ).rejects.toMatchObject({ code: 'ZK_SETUP_FAILED' })
  })

  it('spends the verification gas of a real pairing check on-chain', async () => {
    // estimateGas would be wrong here: with too little gas the verifier's pairing staticcall fails and
    // verifyProof returns false instead of reverting, so the estimate finds that cheap failing path.
    const wallet = createWalletClient({
      account: chain.accounts[0]!,
      chain: chain.chain,
      transport: http(chain.rpcUrl),
    })
    const hash = await wallet.sendTransaction({
      account: chain.accounts[0]!,
      chain: chain.chain,
      to: verifier,
      data: encodeVerifyProofCall(proof.proof, proof.publicSignals),
      gas: 1_000_000n,
    })
    const receipt = await client.waitForTransactionReceipt({ hash })
    expect(receipt.status).toBe('success')
    // four pairings alone cost 45,000 + 4 * 34,000 gas (EIP-1108)
    expect(receipt.gasUsed).toBeGreaterThan(181_000n)
    expect(receipt.gasUsed).toBeLessThan(1_000_000n)
  })
})
