/**
 * The zk child process: runs one task (setup, proving, verification, Solidity compilation) and exits.
 * snarkjs builds the BN254 curve with worker threads it never closes on its own, and its big
 * multi-exponentiations would block the caller's event loop, so it only ever runs here.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import * as snarkjs from 'snarkjs'
import type {
  CompileSolidityResult,
  ProveResult,
  R1csInfoResult,
  VerifyResult,
  ZkTask,
  ZkWorkerMessage,
} from './worker-protocol.js'

function send(message: ZkWorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('the zk worker must be started with an IPC channel'))
      return
    }
    process.send(message, (error: Error | null) => (error ? reject(error) : resolve()))
  })
}

const logger: snarkjs.SnarkjsLogger = {
  info: (message) => void send({ kind: 'progress', message }).catch(() => {}),
  debug: () => {},
  warn: (message) => void send({ kind: 'progress', message: `warning: ${message}` }).catch(() => {}),
  error: (message) => void send({ kind: 'progress', message: `error: ${message}` }).catch(() => {}),
}

/** Writes through a temporary name so a crash or a concurrent build never leaves half a file. */
function temporary(path: string): string {
  return `${path}.${process.pid}.tmp`
}

async function run(task: ZkTask): Promise<unknown> {
  switch (task.op) {
    case 'r1csInfo': {
      const info = await snarkjs.r1cs.info(task.r1csPath)
      const result: R1csInfoResult = {
        constraints: info.nConstraints,
        publicInputs: info.nPubInputs,
        privateInputs: info.nPrvInputs,
        outputs: info.nOutputs,
        wires: info.nVars,
      }
      return result
    }
    case 'powersOfTau': {
      const curve = await snarkjs.curves.getCurveFromName('bn128')
      const fresh = temporary(`${task.outPath}.0`)
      const contributed = temporary(`${task.outPath}.1`)
      const prepared = temporary(task.outPath)
      try {
        await snarkjs.powersOfTau.newAccumulator(curve, task.power, fresh, logger)
        await snarkjs.powersOfTau.contribute(
          fresh,
          contributed,
          'ocn local contribution',
          task.entropy,
          logger,
        )
        await snarkjs.powersOfTau.preparePhase2(contributed, prepared, logger)
        renameSync(prepared, task.outPath)
      } finally {
        for (const f of [fresh, contributed, prepared]) rmSync(f, { force: true })
      }
      return { path: task.outPath }
    }
    case 'groth16Setup': {
      const initial = temporary(`${task.zkeyPath}.0`)
      const final = temporary(task.zkeyPath)
      const keyTemp = temporary(task.verificationKeyPath)
      const solidityTemp = temporary(task.solidityVerifierPath)
      try {
        await snarkjs.zKey.newZKey(task.r1csPath, task.ptauPath, initial, logger)
        // One phase-2 contribution with fresh entropy; without it delta would be the generator.
        await snarkjs.zKey.contribute(initial, final, 'ocn local phase 2', task.entropy, logger)
        const verificationKey = await snarkjs.zKey.exportVerificationKey(final, logger)
        const require = createRequire(import.meta.url)
        const snarkjsRoot = dirname(dirname(require.resolve('snarkjs')))
        const template = readFileSync(join(snarkjsRoot, 'templates', 'verifier_groth16.sol.ejs'), 'utf8')
        const solidity = await snarkjs.zKey.exportSolidityVerifier(final, { groth16: template }, logger)
        writeFileSync(keyTemp, JSON.stringify(verificationKey, null, 1))
        writeFileSync(solidityTemp, solidity)
        renameSync(keyTemp, task.verificationKeyPath)
        renameSync(solidityTemp, task.solidityVerifierPath)
        renameSync(final, task.zkeyPath)
      } finally {
        for (const f of [initial, final, keyTemp, solidityTemp]) rmSync(f, { force: true })
      }
      return { zkeyPath: task.zkeyPath }
    }
    case 'prove': {
      // Build the curve (WebAssembly and its threads) first so the timings cover the proving work.
      const curveStarted = performance.now()
      await snarkjs.curves.getCurveFromName('bn128')
      const curveInitMs = performance.now() - curveStarted
      const started = performance.now()
      const witness: snarkjs.MemFile = { type: 'mem' }
      await snarkjs.wtns.calculate(task.input, task.wasmPath, witness)
      const witnessDone = performance.now()
      const { proof, publicSignals } = await snarkjs.groth16.prove(task.zkeyPath, witness)
      const proveDone = performance.now()
      const values = await snarkjs.wtns.exportJson(witness)
      const result: ProveResult = {
        proof,
        publicSignals,
        witnessValues: task.witnessIndices.map((i) => {
          const v = values[i]
          if (v === undefined) throw new Error(`witness index ${i} is out of range`)
          return v.toString()
        }),
        curveInitMs,
        witnessMs: witnessDone - started,
        proveMs: proveDone - started,
      }
      return result
    }
    case 'verify': {
      const curveStarted = performance.now()
      await snarkjs.curves.getCurveFromName('bn128')
      const curveInitMs = performance.now() - curveStarted
      const started = performance.now()
      const valid = await snarkjs.groth16.verify(task.verificationKey, task.publicSignals, task.proof)
      const result: VerifyResult = { valid, verifyMs: performance.now() - started, curveInitMs }
      return result
    }
    case 'compileSolidity': {
      const solc = (await import('solc')).default
      const source = readFileSync(task.sourcePath, 'utf8')
      const input = {
        language: 'Solidity',
        sources: { 'Verifier.sol': { content: source } },
        settings: {
          optimizer: { enabled: true, runs: 200 },
          evmVersion: 'cancun',
          outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
        },
      }
      const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
        errors?: { severity: string; formattedMessage: string }[]
        contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>
      }
      const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
      if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
      const contract = output.contracts?.['Verifier.sol']?.[task.contractName]
      if (!contract) throw new Error(`the verifier source has no contract ${task.contractName}`)
      const result: CompileSolidityResult = {
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
      }
      return result
    }
  }
}

process.once('message', (task: ZkTask) => {
  void (async () => {
    let exitCode = 0
    try {
      const result = await run(task)
      await send({ kind: 'result', result })
    } catch (error) {
      exitCode = 1
      const e = error instanceof Error ? error : new Error(String(error))
      await send({ kind: 'error', message: e.message, ...(e.stack ? { stack: e.stack } : {}) }).catch(
        () => {},
      )
    } finally {
      const curve = (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128
      await curve?.terminate().catch(() => {})
      process.disconnect?.()
      process.exit(exitCode)
    }
  })()
})
