#!/usr/bin/env node
// Zero-knowledge proof of inference: circuit size, setup, proving, verification off-chain and on-chain,
// for a 16-16-4 MLP and a larger 32-32-32-10 one, plus the quantization's accuracy loss.
//
// Usage: npm run bench:zk [-- --json] [-- --ptau <file>]
// With --json the last stdout line is one JSON object:
//   { model, constraints, setupS, ptauS, proveS, proveWallS, verifyMs, verifyGas, proofBytes,
//     accuracyLoss: { samples, maxAbsError, meanAbsError, argmaxAgreement }, larger: { same keys } }
// setupS = circuit compile + Groth16 circuit-specific setup and export, on a fresh key cache.
// ptauS  = generating the local powers of tau (0 when an earlier run left one in .cache/ocn-zk/ptau).
// proveS = witness + Groth16 prover inside the worker, curve already built; proveWallS = the whole
//          proveInference call (a fresh child process, curve set-up, checks).
// verifyMs = snarkjs verification inside the worker (curve already built).
// verifyGas = gasUsed of a transaction calling verifyProof on the exported verifier (anvil), with the
//          21,000 intrinsic gas and the calldata included.
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { startDevChain } from '@ocn/contracts-client'
import {
  buildZkCircuit,
  compileGroth16Verifier,
  encodeGroth16Proof,
  encodeVerifyProofCall,
  proveInference,
  verifyInferenceProof,
  verifyProofOnChain,
} from '@ocn/prover'
import { createPublicClient, createWalletClient, http } from 'viem'

const json = process.argv.includes('--json')
const ptauFlag = process.argv.indexOf('--ptau')
const ptauPath = ptauFlag >= 0 ? process.argv[ptauFlag + 1] : undefined
const log = (...args) => {
  if (!json) console.log(...args)
}

function lcg(seed) {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

function randomMlp(sizes, seed) {
  const r = lcg(seed)
  return {
    softmaxOutput: false,
    layers: sizes.slice(1).map((out, i) => {
      const inFeatures = sizes[i]
      const spread = 2 / Math.sqrt(inFeatures)
      return {
        inFeatures,
        outFeatures: out,
        weight: Float32Array.from({ length: inFeatures * out }, () => r() * spread),
        bias: Float32Array.from({ length: out }, () => r() * 0.2),
        activation: i === sizes.length - 2 ? 'none' : 'relu',
      }
    }),
  }
}

const sharedCache = resolve('.cache', 'ocn-zk')
const benchCache = resolve('.cache', `ocn-zk-bench-${process.pid}`)
mkdirSync(benchCache, { recursive: true })
// Keys are built fresh for the figures; the universal powers of tau is reused when one exists.
if (existsSync(resolve(sharedCache, 'ptau')))
  cpSync(resolve(sharedCache, 'ptau'), resolve(benchCache, 'ptau'), { recursive: true })

const chain = await startDevChain()
try {
  const client = createPublicClient({ chain: chain.chain, transport: http(chain.rpcUrl) })
  const wallet = createWalletClient({
    account: chain.accounts[0],
    chain: chain.chain,
    transport: http(chain.rpcUrl),
  })

  async function bench(sizes, seed) {
    const name = sizes.join('-')
    log(`\n${name} MLP`)
    const mlp = randomMlp(sizes, seed)
    const r = lcg(seed + 1000)
    const inputs = Array.from({ length: 500 }, () => Array.from({ length: sizes[0] }, () => r() * 4))
    const started = performance.now()
    const built = await buildZkCircuit({
      model: mlp,
      cacheDir: benchCache,
      calibrationInputs: inputs,
      ...(ptauPath ? { ptauPath } : {}),
      onProgress: (e) => {
        if (e.stage !== 'ptau' && e.stage !== 'setup') log(`  [${e.stage}] ${e.message}`)
      },
    })
    const buildS = (performance.now() - started) / 1000
    const { artifacts, timings, accuracy } = built
    log(`  constraints ${artifacts.constraints}, build ${buildS.toFixed(1)} s`, timings)
    log('  accuracy loss', accuracy)

    const proveStarted = performance.now()
    const proof = await proveInference({ artifacts, input: inputs[0], jobBinding: 0n }) // a bench proof settles no job
    const proveWallS = (performance.now() - proveStarted) / 1000
    log(`  prove ${(proof.proveMs / 1000).toFixed(3)} s in the worker, ${proveWallS.toFixed(2)} s wall`)

    const verified = await verifyInferenceProof({
      artifacts,
      proof: proof.proof,
      publicSignals: proof.publicSignals,
    })
    if (!verified.valid) throw new Error('the proof did not verify off-chain')
    log(`  verify off-chain ${verified.verifyMs.toFixed(1)} ms`)

    const { abi, bytecode } = await compileGroth16Verifier(artifacts)
    const deployHash = await wallet.deployContract({ abi, bytecode })
    const deployed = await client.waitForTransactionReceipt({ hash: deployHash })
    const verifier = deployed.contractAddress
    if (!(await verifyProofOnChain(client, verifier, proof.proof, proof.publicSignals))) {
      throw new Error('the proof did not verify on-chain')
    }
    // A real transaction: estimateGas would find the cheap path where the pairing runs out of gas
    // and verifyProof returns false without reverting.
    const hash = await wallet.sendTransaction({
      to: verifier,
      data: encodeVerifyProofCall(proof.proof, proof.publicSignals),
      gas: 2_000_000n,
    })
    const receipt = await client.waitForTransactionReceipt({ hash })
    log(`  verify on-chain ${receipt.gasUsed} gas (verifier deployment ${deployed.gasUsed} gas)`)

    return {
      model: name,
      constraints: artifacts.constraints,
      setupS: Number((timings.compileS + timings.setupS).toFixed(2)),
      ptauS: Number(timings.ptauS.toFixed(2)),
      ptauPower: artifacts.ptau.power ?? null,
      proveS: Number((proof.proveMs / 1000).toFixed(3)),
      proveWallS: Number(proveWallS.toFixed(3)),
      verifyMs: Number(verified.verifyMs.toFixed(2)),
      verifyGas: Number(receipt.gasUsed),
      proofBytes: (encodeGroth16Proof(proof.proof).length - 2) / 2,
      accuracyLoss: {
        samples: accuracy.samples,
        maxAbsError: Number(accuracy.maxAbsError.toFixed(5)),
        meanAbsError: Number(accuracy.meanAbsError.toFixed(5)),
        argmaxAgreement: accuracy.argmaxAgreement,
      },
    }
  }

  const small = await bench([16, 16, 4], 11)
  const larger = await bench([32, 32, 32, 10], 21)
  // keep the generated ptau for later runs and tests
  if (existsSync(resolve(benchCache, 'ptau')))
    cpSync(resolve(benchCache, 'ptau'), resolve(sharedCache, 'ptau'), {
      recursive: true,
      force: false,
      errorOnExist: false,
    })
  const result = { ...small, larger }
  log('\n', result)
  if (json) console.log(JSON.stringify(result))
} finally {
  await chain.stop()
  rmSync(benchCache, { recursive: true, force: true })
}
