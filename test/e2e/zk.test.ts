/**
 * A zk-mode job across real nodes: the requester computes the input commitment from its circuit
 * for the model and posts it as the offer's inputHash; only the provider holding the circuit
 * bids; on award it fetches the inputs over the artifact protocol, proves in the prover's child
 * process and calls commitZkResult, which checks the Groth16 proof (bound to the job and the
 * provider by its job binding) on anvil and pays at once.
 * The verifier leaves the job alone. Balances to the wei.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { getJob, getMarketParams, registerZkModel } from '@ocn/contracts-client'
import type { RequesterRole } from '@ocn/node'
import { contentHashOf, zkJobBinding } from '@ocn/protocol'
import { buildMlpModel, buildZkCircuit, compileGroth16Verifier, encodeOnnxModel, type Mlp } from '@ocn/prover'
import { deployContract, waitForTransactionReceipt } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  fundAndStake,
  jobIn,
  OPEN,
  removeDir,
  startChain,
  startNodes,
  type TestNetwork,
  type TestNode,
  tempDir,
  tokenBalances,
  waitFor,
  walletFor,
} from './helpers.js'

const REQUESTER = 1
const PROVIDER = 2
const NO_CIRCUIT = 3
const VERIFIER = 4
const TREASURY = 9
/** The prover tests' cache (gitignored): a warm one holds this model's circuit and keys. */
const CACHE_DIR = resolve(import.meta.dirname, '../../.cache/ocn-zk')

function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

/** The prover tests' 16-16-4 ReLU MLP (seed 11). */
function mlp1616(): Mlp {
  const r = lcg(11)
  const sizes = [16, 16, 4]
  return {
    softmaxOutput: false,
    layers: sizes.slice(1).map((out, i) => {
      const inFeatures = sizes[i]!
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

describe('zk-mode job (in-process nodes, anvil, real Groth16 proof)', () => {
  let net: Omit<TestNetwork, 'wallet' | 'stop'> & { nodes: TestNode[] }
  let modelPath: string
  let inputsPath: string
  const node = (name: string) => net.nodes.find((n) => n.name === name)!

  beforeAll(async () => {
    const dir = await tempDir()
    const { chain, deployment, deployer } = await startChain({
      challengeWindow: 30,
      treasuryIndex: TREASURY,
    })
    net = { chain, deployment, dir, nodes: [] }
    await fundAndStake(chain, deployment, REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(chain, deployment, PROVIDER, 200n * OPEN, 100n * OPEN)
    await fundAndStake(chain, deployment, NO_CIRCUIT, 200n * OPEN, 100n * OPEN)
    await fundAndStake(chain, deployment, VERIFIER, 200n * OPEN, 100n * OPEN)

    const mlp = mlp1616()
    const onnx = encodeOnnxModel(buildMlpModel(mlp, { style: 'matmul-add' }))
    modelPath = join(dir, 'model.onnx')
    await writeFile(modelPath, onnx)
    // one sample of 16 floats as safetensors
    const r = lcg(5)
    const values = Float32Array.from({ length: 16 }, () => r() * 4)
    const header = JSON.stringify({ x: { dtype: 'F32', shape: [1, 16], data_offsets: [0, 64] } })
    const padded = header.padEnd(Math.ceil(header.length / 8) * 8, ' ')
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(padded.length))
    inputsPath = join(dir, 'inputs.safetensors')
    await writeFile(
      inputsPath,
      Buffer.concat([len, Buffer.from(padded), Buffer.from(new Uint8Array(values.buffer))]),
    )

    // a cold cache generates the power-12 ptau and the setup (a few minutes on 2 cores)
    await mkdir(CACHE_DIR, { recursive: true })
    const built = await buildZkCircuit({ model: mlp, cacheDir: CACHE_DIR })
    const { abi, bytecode } = await compileGroth16Verifier(built.artifacts)
    const hash = await deployContract(deployer, {
      abi,
      bytecode,
      account: deployer.account,
      chain: deployer.chain,
    })
    const verifier = (await waitForTransactionReceipt(deployer, { hash })).contractAddress!
    await registerZkModel(deployer, {
      zkVerifierRegistry: deployment.addresses.zkVerifierRegistry,
      modelHash: contentHashOf(onnx),
      modelCommitment: BigInt(built.artifacts.modelCommitment),
      verifier,
    })
    // the requester and the one zk provider see the circuit in <data-dir>/zk
    for (const name of ['requester', 'prover']) {
      await mkdir(join(dir, name), { recursive: true })
      await symlink(CACHE_DIR, join(dir, name, 'zk'), 'dir')
    }
    net.nodes = await startNodes(chain, deployment, dir, [
      { name: 'verifier', accountIndex: VERIFIER, roles: ['verifier'] },
      {
        name: 'prover',
        accountIndex: PROVIDER,
        roles: ['provider'],
        configure: (c) => {
          c.provider.priceFloorPerSample = 10n ** 16n
        },
      },
      {
        // cheaper, but without the circuit: it must not bid
        name: 'plain',
        accountIndex: NO_CIRCUIT,
        roles: ['provider'],
        configure: (c) => {
          c.provider.priceFloorPerSample = 10n ** 14n
        },
      },
      { name: 'requester', accountIndex: REQUESTER, roles: ['requester'] },
    ])
  }, 600_000)

  afterAll(async () => {
    for (const n of [...(net?.nodes ?? [])].reverse()) await n.daemon.stop().catch(() => {})
    await net?.chain.stop()
    if (net?.dir) await removeDir(net.dir)
  })

  it('settles at commit on the proof: only the circuit holder bids, balances to the wei', async () => {
    const { chain, deployment } = net
    const addr = Object.fromEntries(net.nodes.map((n) => [n.name, n.address]))
    const treasury = chain.accounts[TREASURY]!.address
    const accounts = [addr.requester!, addr.prover!, addr.plain!, addr.verifier!, treasury]
    const before = await tokenBalances(chain, deployment, accounts)
    const client = walletFor(chain, chain.privateKeys[0]!)
    const params = await getMarketParams(client, {
      jobMarket: deployment.addresses.jobMarket,
      stakeManager: deployment.addresses.stakeManager,
    })

    const requester = node('requester').components.parts.roles.requester as RequesterRole
    const { jobId } = await requester.submitJob({
      modelPath,
      inputsPath,
      kind: 'inference',
      verification: 'zk',
    })
    const done = await jobIn(node('requester'), jobId, ['finalized', 'failed', 'expired'])
    expect(done.state).toBe('finalized')
    expect(done.verification).toBe('zk')
    expect(done.provider).toBe(addr.prover)
    const atProvider = await jobIn(node('prover'), jobId, ['finalized'])
    expect(atProvider.history.map((h) => h.state)).toEqual(
      expect.arrayContaining(['bidding', 'awarded', 'executing', 'committed', 'finalized']),
    )
    expect(await node('plain').daemon.state.getJob(jobId)).toBeUndefined()

    const onChain = await getJob(client, {
      jobMarket: deployment.addresses.jobMarket,
      jobId: jobId as `0x${string}`,
    })
    expect(onChain.status).toBe('finalized')
    expect(onChain.resultRoot).toBe(atProvider.resultRoot)
    const price = onChain.price
    expect(price).toBe(10n ** 16n)
    const fee = (price * BigInt(params.protocolFeeBps)) / 10_000n
    const after = await tokenBalances(chain, deployment, accounts)
    expect(after[addr.requester!]!.token).toBe(before[addr.requester!]!.token - price)
    expect(after[addr.prover!]!.token).toBe(before[addr.prover!]!.token + price - fee)
    expect(after[addr.prover!]!.locked).toBe(before[addr.prover!]!.locked)
    expect(after[addr.plain!]).toEqual(before[addr.plain!])
    expect(after[addr.verifier!]).toEqual(before[addr.verifier!])
    // the requester fetched the proof JSON; its output vector hashes to the settled commitment
    const results = await waitFor('zk results at the requester', async () => {
      const job = await node('requester').daemon.state.getJob(jobId)
      const detail = job?.detail as { results?: { zk?: boolean; verified: boolean; outputHash: string } }
      return detail?.results
    })
    expect(results).toMatchObject({ zk: true, verified: true })
    const proofJson = JSON.parse(
      new TextDecoder().decode(
        await node('requester').components.parts.store!.getBytes(results.outputHash as `0x${string}`),
      ),
    )
    expect(proofJson.output).toHaveLength(4)
    expect(proofJson.publicSignals[1]).toBe(BigInt(done.inputHash!).toString())
    // the proof the chain accepted is bound to this job and this provider
    expect(proofJson.publicSignals[3]).toBe(zkJobBinding(jobId as `0x${string}`, addr.prover!).toString())
    // the verifier saw the award but left the job to the chain
    const atVerifier = await node('verifier').daemon.state.getJob(jobId)
    expect(atVerifier === undefined || atVerifier.state !== 'challenged').toBe(true)
  })
})
