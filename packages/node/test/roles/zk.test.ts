/**
 * The roles' zk pieces on a real anvil with a real circuit: the node's circuit index found by
 * the registry's model commitment, the requester's input commitment from a tensor, and the
 * provider's prove-and-settle of an awarded zk job, paid at commit to the wei.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  approveToken,
  award,
  type Deployment,
  type DevChain,
  deployProtocol,
  getJob,
  getMarketParams,
  getTokenBalance,
  registerZkModel,
  signBid,
  stake,
  startDevChain,
  transferToken,
} from '@ocn/contracts-client'
import { contentHashOf, jobIdOf, type OfferTerms } from '@ocn/protocol'
import {
  type BuildZkCircuitResult,
  buildMlpModel,
  buildZkCircuit,
  compileGroth16Verifier,
  encodeOnnxModel,
  type Mlp,
} from '@ocn/prover'
import {
  type Account,
  type Chain,
  type Client,
  createWalletClient,
  type Hex,
  http,
  parseEther,
  type Transport,
  toHex,
} from 'viem'
import { deployContract, getBlock, waitForTransactionReceipt } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NamedTensors } from '../../src/executor/tensor.js'
import {
  circuitForModel,
  loadZkCircuits,
  proveZkJob,
  zkInputCommitment,
  zkInputVector,
} from '../../src/roles/zk.js'

type Wallet = Client<Transport, Chain, Account>
const CACHE_DIR = resolve(import.meta.dirname, '../../../../.cache/ocn-zk')
const e = parseEther
const PRICE = e('40')
const COLLATERAL = e('200')

function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

/** The prover tests' 16-16-4 model (seed 11): a warm cache holds its circuit and keys. */
function randomMlp(sizes: readonly number[], seed: number): Mlp {
  const r = lcg(seed)
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

function tensorOf(values: readonly number[]): NamedTensors {
  return {
    x: { dtype: 'float32', dims: [1, values.length], data: new Uint8Array(Float32Array.from(values).buffer) },
  }
}

let dir: string
let chain: DevChain
let deployment: Deployment
let admin: Wallet
let requester: Wallet
let provider: Wallet
let built: BuildZkCircuitResult
let modelHash: Hex
const r = lcg(5)
const input = Array.from({ length: 16 }, () => r() * 4)

const wallet = (account: Account): Wallet =>
  createWalletClient({ account, chain: chain.chain, transport: http(chain.rpcUrl), pollingInterval: 50 })

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-roles-zk-'))
  await mkdir(CACHE_DIR, { recursive: true })
  const mlp = randomMlp([16, 16, 4], 11)
  modelHash = contentHashOf(encodeOnnxModel(buildMlpModel(mlp, { style: 'matmul-add' })))
  built = await buildZkCircuit({ model: mlp, cacheDir: CACHE_DIR })
  chain = await startDevChain()
  const [a0, a1, a2] = chain.accounts
  admin = wallet(a0!)
  requester = wallet(a1!)
  provider = wallet(a2!)
  deployment = await deployProtocol(admin)
  const { token, stakeManager, jobMarket, zkVerifierRegistry } = deployment.addresses
  for (const w of [requester, provider]) {
    await transferToken(admin, { token, to: w.account.address, amount: e('10000') })
  }
  await approveToken(provider, { token, spender: stakeManager, amount: e('5000') })
  await stake(provider, { stakeManager, amount: e('5000') })
  await approveToken(requester, { token, spender: jobMarket, amount: e('10000') })
  const { abi, bytecode } = await compileGroth16Verifier(built.artifacts)
  const hash = await deployContract(admin, { abi, bytecode })
  const verifier = (await waitForTransactionReceipt(admin, { hash })).contractAddress!
  await registerZkModel(admin, {
    zkVerifierRegistry,
    modelHash,
    modelCommitment: BigInt(built.artifacts.modelCommitment),
    verifier,
  })
}, 600_000)

afterAll(async () => {
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('roles/zk', () => {
  it('finds the circuit for a registered model by its commitment, and none for others', async () => {
    const skipped: string[] = []
    const index = loadZkCircuits([CACHE_DIR, join(dir, 'missing')], (d) => skipped.push(d))
    const registry = deployment.addresses.zkVerifierRegistry
    const found = await circuitForModel(index, admin, registry, modelHash)
    expect(typeof found).toBe('object')
    expect(typeof found === 'object' && found.modelCommitment).toBe(built.artifacts.modelCommitment)
    // one circuit folder given directly works too
    const single = loadZkCircuits([built.artifacts.dir])
    expect(single.circuits).toHaveLength(1)
    expect(await circuitForModel(index, admin, registry, contentHashOf(new Uint8Array([1])))).toBe(
      'the model has no zk verifier registered',
    )
    expect(await circuitForModel(loadZkCircuits([]), admin, registry, modelHash)).toBe(
      'no zk circuits configured',
    )
  })

  it('refuses an input that does not fit the circuit', () => {
    expect(() => zkInputVector(built.artifacts, tensorOf([1, 2, 3]))).toThrow(/does not fit the zk circuit/)
  })

  it('proves an awarded zk job and settles it at commit: provider paid to the wei', async () => {
    const { token, jobMarket, stakeManager } = deployment.addresses
    const inputHash = zkInputCommitment(built.artifacts, tensorOf(input))
    const now = (await getBlock(admin)).timestamp
    const offer: OfferTerms = {
      requester: requester.account.address,
      modelHash,
      inputHash,
      specHash: contentHashOf(new TextEncoder().encode('zk spec')),
      kind: 0,
      verification: 1,
      maxPrice: e('50'),
      minCollateral: e('100'),
      biddingEnds: now + 60n,
      deadline: now + 3600n,
      sampleCount: 1,
      microBatchSize: 1,
      salt: 1n,
    }
    const bid = {
      jobId: jobIdOf(offer),
      provider: provider.account.address,
      price: PRICE,
      collateral: COLLATERAL,
      expiry: now + 600n,
      nonce: 1n,
      etaSeconds: 30,
    }
    const signature = await signBid(provider, {
      domain: { chainId: chain.chain.id, verifyingContract: jobMarket },
      bid,
    })
    const { jobId } = await award(requester, { jobMarket, offer, bid, signature })

    // another input than the awarded one is refused before any transaction
    const other = input.map((v) => v + 1)
    await expect(
      proveZkJob({ client: provider, jobMarket, jobId, artifacts: built.artifacts, inputs: tensorOf(other) }),
    ).rejects.toThrow(/not the one the award committed to/)

    const balance = (account: Hex) => getTokenBalance(admin, { token, account })
    const before = await balance(provider.account.address)
    const params = await getMarketParams(admin, { jobMarket, stakeManager })
    const { proof } = await proveZkJob({
      client: provider,
      jobMarket,
      jobId,
      artifacts: built.artifacts,
      inputs: tensorOf(input),
    })
    const fee = (PRICE * BigInt(params.protocolFeeBps)) / 10_000n
    expect(await balance(provider.account.address)).toBe(before + PRICE - fee)
    const job = await getJob(admin, { jobMarket, jobId })
    expect(job.status).toBe('finalized')
    expect(job.resultRoot).toBe(toHex(BigInt(proof.commitments.outputCommitment), { size: 32 }))
  }, 240_000)
})
