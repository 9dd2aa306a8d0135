/**
 * The roles' zk pieces on a real anvil with a real circuit: the node's circuit index found by
 * the registry's model commitment, the requester's input commitment from a tensor, and the
 * provider's prove-and-settle of an awarded zk job (its proof bound to the job and the provider),
 * paid at commit to the wei.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  approveToken,
  award,
  type Deployment,
  type DevChain,
  deployProtocol,
  getJob,
  getMarketParams,
  getTokenBalance,
  signBid,
  stake,
  startDevChain,
  transferToken,
} from '@ocn/contracts-client'
import { contentHashOf, jobIdOf, type OfferTerms, zkJobBinding } from '@ocn/protocol'
import { ARTIFACTS_MANIFEST, type BuildZkCircuitResult } from '@ocn/prover'
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
import { getBlock } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NamedTensors } from '../../src/executor/tensor.js'
import {
  circuitForModel,
  loadZkCircuits,
  proveZkJob,
  registerZkVerifier,
  zkInputCommitment,
  zkInputVector,
} from '../../src/roles/zk.js'
import { buildZkTestCircuit, ZK_CACHE_DIR, zkTestInput, zkTestModelBytes } from '../fixtures/zk.js'

type Wallet = Client<Transport, Chain, Account>
const e = parseEther
const PRICE = e('40')
const COLLATERAL = e('200')

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
const input = zkTestInput()

const wallet = (account: Account): Wallet =>
  createWalletClient({ account, chain: chain.chain, transport: http(chain.rpcUrl), pollingInterval: 50 })

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-roles-zk-'))
  modelHash = contentHashOf(zkTestModelBytes())
  built = await buildZkTestCircuit()
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
  await registerZkVerifier(admin, { artifacts: built.artifacts, modelHash, zkVerifierRegistry })
}, 600_000)

afterAll(async () => {
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('roles/zk', () => {
  it('finds the circuit for a registered model by its commitment, and none for others', async () => {
    const skipped: string[] = []
    const index = loadZkCircuits([ZK_CACHE_DIR, join(dir, 'missing')], (d) => skipped.push(d))
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

  it('skips a circuit built before the job binding instead of proving with it', async () => {
    // same model commitment, three public signals: it would shadow the new circuit in the index
    const old = join(dir, 'pre-binding')
    await mkdir(old, { recursive: true })
    const manifest = JSON.parse(await readFile(join(built.artifacts.dir, ARTIFACTS_MANIFEST), 'utf8'))
    await writeFile(join(old, ARTIFACTS_MANIFEST), JSON.stringify({ ...manifest, version: 1 }))
    const skipped: unknown[] = []
    const index = loadZkCircuits([built.artifacts.dir, old], (_d, error) => skipped.push(error))
    expect(index.circuits.map((c) => c.dir)).toEqual([built.artifacts.dir])
    expect(skipped).toEqual([expect.objectContaining({ code: 'ZK_ARTIFACTS' })])
    expect(String((skipped[0] as Error).message)).toMatch(/predates the job binding/)
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

    // the proof is bound to the job's provider: another node is refused before it proves
    await expect(
      proveZkJob({
        client: requester,
        jobMarket,
        jobId,
        artifacts: built.artifacts,
        inputs: tensorOf(input),
      }),
    ).rejects.toMatchObject({
      code: 'ROLE_INVALID_PARAMS',
      message: expect.stringMatching(/not to this node/),
    })

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
    expect(proof.jobBinding).toBe(zkJobBinding(jobId, provider.account.address).toString())
  }, 240_000)
})
