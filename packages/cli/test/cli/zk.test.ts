/**
 * `ocn zk build|prove|verify|register` as real child processes: a 16-16-4 ReLU MLP built into a
 * circuit (the repo's .cache/ocn-zk, the prover tests' cache, so the power-12 ptau and the keys are
 * made once), a real proof of one input, verified off-chain, a tampered copy refused, and the
 * verifier deployed and registered on a real anvil.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Deployment,
  type DevChain,
  deployProtocol,
  getZkModel,
  startDevChain,
} from '@ocn/contracts-client'
import { encodeNpy } from '@ocn/node'
import { contentHashOf } from '@ocn/protocol'
import { createWalletClient, http } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ZK_CACHE_DIR, zkTestInput, zkTestModelBytes } from '../../../node/test/fixtures/zk.js'
import { ocnBin, runOcnIn } from '../ocn.js'

const bin = ocnBin

let dir: string
let chain: DevChain
let deployment: Deployment
let modelPath: string
let modelBytes: Uint8Array

const ocn = (args: string[], timeoutMs = 60_000) => runOcnIn(dir, args, { timeoutMs })

function npy(values: readonly number[]): Uint8Array {
  const data = new Uint8Array(Float32Array.from(values).buffer)
  return encodeNpy({ dtype: 'float32', dims: [1, values.length], data })
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-zk-cli-'))
  await mkdir(ZK_CACHE_DIR, { recursive: true })
  // the prover tests' 16-16-4 model (seed 11): a warm cache holds its circuit and keys already
  modelBytes = zkTestModelBytes()
  modelPath = join(dir, 'mlp.onnx')
  await writeFile(modelPath, modelBytes)
  await writeFile(join(dir, 'x.npy'), npy(zkTestInput()))
  await writeFile(join(dir, 'short.npy'), npy([1, 2, 3]))
  chain = await startDevChain()
  const admin = createWalletClient({
    account: chain.accounts[0]!,
    chain: chain.chain,
    transport: http(chain.rpcUrl),
  })
  deployment = await deployProtocol(admin, { outFile: join(dir, 'deployment.json') })
  await writeFile(join(dir, 'admin.key'), `${chain.privateKeys[0]!}\n`)
}, 180_000)

afterAll(async () => {
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('ocn zk', () => {
  let circuitDir: string
  let modelCommitment: string

  it('builds the circuit with progress lines and a JSON summary', async () => {
    // cold: ptau of power 12 + setup, a few minutes on 2 cores; warm: seconds
    const text = await ocn(['zk', 'build', '--model', modelPath, '--cache-dir', ZK_CACHE_DIR], 600_000)
    expect(text.code, text.stderr).toBe(0)
    expect(text.stderr).toMatch(/\[1\/6\] quantize/)
    expect(text.stderr).toMatch(/\[6\/6\] done/)
    expect(text.stdout).toMatch(/model commitment \d+/)

    const out = await ocn(['zk', 'build', '--model', modelPath, '--cache-dir', ZK_CACHE_DIR, '--json'])
    expect(out.code, out.stderr).toBe(0)
    const summary = JSON.parse(out.stdout)
    expect(summary.cached).toEqual({ circuit: true, ptau: true, keys: true })
    expect(summary.modelHash).toBe(contentHashOf(modelBytes))
    expect(summary.constraints).toBeGreaterThan(100)
    expect(summary.inputSize).toBe(16)
    expect(summary.outputSize).toBe(4)
    expect(existsSync(summary.verifierSolidity)).toBe(true)
    expect(await readFile(summary.verifierSolidity, 'utf8')).toMatch(/contract Groth16Verifier/)
    circuitDir = summary.circuitDir
    modelCommitment = summary.modelCommitment
  }, 620_000)

  it('proves an input file and verifies the proof; a tampered proof exits 1', async () => {
    const proofPath = join(dir, 'proof.json')
    const proved = await ocn(
      ['zk', 'prove', '--circuit', circuitDir, '--inputs', join(dir, 'x.npy'), '--out', proofPath, '--json'],
      120_000,
    )
    expect(proved.code, proved.stdout + proved.stderr).toBe(0)
    const reply = JSON.parse(proved.stdout)
    expect(reply.publicSignals[0]).toBe(modelCommitment)
    expect(reply.output).toHaveLength(4)
    // without --job-id and --provider the proof is bound to no job
    expect(reply.publicSignals).toHaveLength(4)
    expect(reply.jobBinding).toBe('0')

    const ok = await ocn(['zk', 'verify', '--circuit', circuitDir, '--proof', proofPath, '--json'])
    expect(ok.code, ok.stdout + ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout).valid).toBe(true)

    // another output claimed for the same proof points: consistent JSON, failing pairing
    const proof = JSON.parse(await readFile(proofPath, 'utf8'))
    const forged = structuredClone(proof)
    forged.proof.pi_a[0] = proof.proof.pi_c[0]
    forged.proof.pi_a[1] = proof.proof.pi_c[1]
    await writeFile(join(dir, 'forged.json'), JSON.stringify(forged))
    const bad = await ocn(['zk', 'verify', '--circuit', circuitDir, '--proof', join(dir, 'forged.json')])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toMatch(/^invalid:/)

    // a changed output no longer matches its commitment
    const changed = structuredClone(proof)
    changed.quantizedOutput[0] = String(BigInt(changed.quantizedOutput[0]) + 1n)
    await writeFile(join(dir, 'changed.json'), JSON.stringify(changed))
    const mismatch = await ocn([
      'zk',
      'verify',
      '--circuit',
      circuitDir,
      '--proof',
      join(dir, 'changed.json'),
      '--json',
    ])
    expect(mismatch.code).toBe(1)
    expect(JSON.parse(mismatch.stdout).valid).toBe(false)

    // bound to a job: the binding is @ocn/protocol's test vector for this job id and provider
    const boundPath = join(dir, 'bound.json')
    const bound = await ocn(
      [
        'zk',
        'prove',
        '--circuit',
        circuitDir,
        '--inputs',
        join(dir, 'x.npy'),
        '--out',
        boundPath,
        '--job-id',
        `0x${'11'.repeat(32)}`,
        '--provider',
        `0x${'22'.repeat(20)}`,
        '--json',
      ],
      120_000,
    )
    expect(bound.code, bound.stdout + bound.stderr).toBe(0)
    expect(JSON.parse(bound.stdout).publicSignals[3]).toBe(
      '9450949520939005032428298284028694927535443221032981854353657136215969888401',
    )
    const boundOk = await ocn(['zk', 'verify', '--circuit', circuitDir, '--proof', boundPath, '--json'])
    expect(boundOk.code, boundOk.stdout + boundOk.stderr).toBe(0)
  }, 240_000)

  it('exits 2 on usage errors: missing flags, a wrong-size input, no circuit', async () => {
    const missing = await ocn(['zk', 'verify', '--circuit', circuitDir, '--json'])
    expect(missing.code).toBe(2)
    expect(JSON.parse(missing.stdout).error.code).toBe('CLI_USAGE')
    // a job binding needs both halves
    const half = await ocn([
      'zk',
      'prove',
      '--circuit',
      circuitDir,
      '--inputs',
      join(dir, 'x.npy'),
      '--out',
      join(dir, 'p.json'),
      '--job-id',
      `0x${'11'.repeat(32)}`,
      '--json',
    ])
    expect(half.code).toBe(2)
    expect(JSON.parse(half.stdout).error).toMatchObject({
      code: 'CLI_USAGE',
      message: expect.stringMatching(/--provider/),
    })
    const short = await ocn([
      'zk',
      'prove',
      '--circuit',
      circuitDir,
      '--inputs',
      join(dir, 'short.npy'),
      '--out',
      join(dir, 'p.json'),
      '--json',
    ])
    expect(short.code).toBe(2)
    expect(JSON.parse(short.stdout).error.code).toBe('ZK_COMMAND_INPUT')
    const nowhere = await ocn([
      'zk',
      'verify',
      '--circuit',
      dir,
      '--proof',
      join(dir, 'proof.json'),
      '--json',
    ])
    expect(nowhere.code).toBe(2)
    expect(JSON.parse(nowhere.stdout).error.code).toBe('ZK_COMMAND_FAILED')
  })

  it('deploys the verifier and registers it for the model with the admin key', async () => {
    const out = await ocn(
      [
        'zk',
        'register',
        '--circuit',
        circuitDir,
        '--model',
        modelPath,
        '--admin-key-file',
        join(dir, 'admin.key'),
        '--rpc-url',
        chain.rpcUrl,
        '--deployment',
        join(dir, 'deployment.json'),
        '--data-dir',
        join(dir, 'node'),
        '--json',
      ],
      300_000,
    )
    expect(out.code, out.stdout + out.stderr).toBe(0)
    const reply = JSON.parse(out.stdout)
    const client = createWalletClient({ chain: chain.chain, transport: http(chain.rpcUrl) })
    const entry = await getZkModel(client, {
      zkVerifierRegistry: deployment.addresses.zkVerifierRegistry,
      modelHash: contentHashOf(modelBytes),
    })
    expect(entry?.modelCommitment).toBe(BigInt(modelCommitment))
    expect(entry?.verifier.toLowerCase()).toBe(reply.verifier.toLowerCase())
  }, 320_000)
})
