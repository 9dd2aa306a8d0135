import { getAddress, keccak256, parseEther, toHex } from 'viem'
import { getContractEvents, readContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  award,
  clearZkModel,
  commitResult,
  commitZkResult,
  expire,
  getJob,
  getZkModel,
  getZkTerms,
  jobMarketAbi,
  registerZkModel,
  zkVerifierRegistryAbi,
} from '../src/index.js'
import {
  advance,
  approveMarket,
  chainTime,
  expectRevert,
  makeBid,
  makeOffer,
  type Protocol,
  setupProtocol,
  stakeAs,
} from './helpers.js'

/**
 * The registry and the zk-mode checks that need no real proof. Proofs from a real circuit are
 * settled in packages/prover/test/zk/onchain-settle.test.ts (the prover depends on this package,
 * not the other way round). Where a verifier contract is needed here, the OpenToken stands in:
 * it has code but no verifyProof, so every proof it is asked about counts as rejected.
 */
const e = parseEther
const FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n
const zeroProof = {
  a: [1n, 2n],
  b: [
    [0n, 0n],
    [0n, 0n],
  ],
  c: [1n, 2n],
} as const
let p: Protocol
let jobMarket: `0x${string}`
let registry: `0x${string}`
let token: `0x${string}`
const modelHash = keccak256(toHex('zk model'))
const inputCommitment = 12345n

beforeAll(async () => {
  p = await setupProtocol({ challengeWindow: 600, unbondingDelay: 3600n })
  // checksummed, as the contracts' address outputs decode
  ;[jobMarket, registry, token] = [
    p.deployment.addresses.jobMarket,
    p.deployment.addresses.zkVerifierRegistry,
    p.deployment.addresses.token,
  ].map((a) => getAddress(a)) as [`0x${string}`, `0x${string}`, `0x${string}`]
  await stakeAs(p, p.provider, e('10000'))
  await approveMarket(p, p.requester, e('1000000'))
})
afterAll(async () => {
  await p?.chain.stop()
})

describe('ZkVerifierRegistry', () => {
  it('is wired into the JobMarket by the deployment', async () => {
    const wired = await readContract(p.admin, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'zkVerifierRegistry',
    })
    expect(wired).toBe(registry)
  })

  it('registers, reads and clears an entry, with events, admin only', async () => {
    await expectRevert(
      registerZkModel(p.other, {
        zkVerifierRegistry: registry,
        modelHash,
        modelCommitment: 7n,
        verifier: token,
      }),
      'AccessManagedUnauthorized',
    )
    expect(await getZkModel(p.admin, { zkVerifierRegistry: registry, modelHash })).toBeUndefined()
    const { receipt } = await registerZkModel(p.admin, {
      zkVerifierRegistry: registry,
      modelHash,
      modelCommitment: 7n,
      verifier: token,
    })
    expect(await getZkModel(p.admin, { zkVerifierRegistry: registry, modelHash })).toEqual({
      modelCommitment: 7n,
      verifier: token,
    })
    const [registered] = await getContractEvents(p.admin, {
      address: registry,
      abi: zkVerifierRegistryAbi,
      eventName: 'ZkModelRegistered',
      fromBlock: receipt.blockNumber,
      toBlock: receipt.blockNumber,
    })
    expect(registered?.args).toEqual({ modelHash, modelCommitment: 7n, verifier: token })

    await expectRevert(
      clearZkModel(p.other, { zkVerifierRegistry: registry, modelHash }),
      'AccessManagedUnauthorized',
    )
    const cleared = await clearZkModel(p.admin, { zkVerifierRegistry: registry, modelHash })
    expect(await getZkModel(p.admin, { zkVerifierRegistry: registry, modelHash })).toBeUndefined()
    const [clearedEvent] = await getContractEvents(p.admin, {
      address: registry,
      abi: zkVerifierRegistryAbi,
      eventName: 'ZkModelCleared',
      fromBlock: cleared.receipt.blockNumber,
      toBlock: cleared.receipt.blockNumber,
    })
    expect(clearedEvent?.args).toEqual({ modelHash, modelCommitment: 7n, verifier: token })
    const err = await expectRevert(
      clearZkModel(p.admin, { zkVerifierRegistry: registry, modelHash }),
      'ZkModelNotRegistered',
    )
    expect(err.args[0]).toBe(modelHash)
  })

  it('refuses a commitment outside the field or zero, and a verifier with no code', async () => {
    for (const modelCommitment of [0n, FIELD, 2n ** 256n - 1n]) {
      await expectRevert(
        registerZkModel(p.admin, {
          zkVerifierRegistry: registry,
          modelHash,
          modelCommitment,
          verifier: token,
        }),
        'InvalidModelCommitment',
      )
    }
    const err = await expectRevert(
      registerZkModel(p.admin, {
        zkVerifierRegistry: registry,
        modelHash,
        modelCommitment: 7n,
        verifier: p.other.account.address,
      }),
      'VerifierNotContract',
    )
    expect(err.args[0]).toBe(p.other.account.address)
  })
})

describe('JobMarket zk mode without a real proof', () => {
  const zkOffer = (overrides: Parameters<typeof makeOffer>[1] = {}) =>
    makeOffer(p, {
      verification: 1,
      modelHash,
      inputHash: toHex(inputCommitment, { size: 32 }),
      ...overrides,
    })

  beforeAll(async () => {
    await registerZkModel(p.admin, {
      zkVerifierRegistry: registry,
      modelHash,
      modelCommitment: 7n,
      verifier: token,
    })
  })

  it('binds the registry entry and the input commitment at award, and keeps them if the entry changes', async () => {
    const offer = await zkOffer()
    const { bid, signature } = await makeBid(p, offer)
    const { jobId, receipt } = await award(p.requester, { jobMarket, offer, bid, signature })
    const [awarded] = await getContractEvents(p.admin, {
      address: jobMarket,
      abi: jobMarketAbi,
      eventName: 'ZkJobAwarded',
      fromBlock: receipt.blockNumber,
      toBlock: receipt.blockNumber,
    })
    expect(awarded?.args).toEqual({ jobId, modelHash, modelCommitment: 7n, inputCommitment, verifier: token })
    await registerZkModel(p.admin, {
      zkVerifierRegistry: registry,
      modelHash,
      modelCommitment: 8n,
      verifier: jobMarket,
    })
    expect(await getZkTerms(p.admin, { jobMarket, jobId })).toEqual({
      modelCommitment: 7n,
      inputCommitment,
      verifier: token,
    })
    await registerZkModel(p.admin, {
      zkVerifierRegistry: registry,
      modelHash,
      modelCommitment: 7n,
      verifier: token,
    })
  })

  it('refuses an input commitment outside the field at award', async () => {
    const offer = await zkOffer({ inputHash: toHex(FIELD, { size: 32 }) })
    const { bid, signature } = await makeBid(p, offer)
    const err = await expectRevert(
      award(p.requester, { jobMarket, offer, bid, signature }),
      'PublicSignalOutOfField',
    )
    expect(err.args).toEqual([1n, FIELD])
  })

  it('keeps the two commit paths apart', async () => {
    const zk = await zkOffer()
    const zkBid = await makeBid(p, zk)
    const { jobId: zkJob } = await award(p.requester, { jobMarket, offer: zk, ...zkBid })
    const replay = await makeOffer(p)
    const replayBid = await makeBid(p, replay)
    const { jobId: replayJob } = await award(p.requester, { jobMarket, offer: replay, ...replayBid })

    const root = keccak256(toHex('root'))
    let err = await expectRevert(
      commitResult(p.provider, { jobMarket, jobId: zkJob, resultRoot: root, leafCount: 1 }),
      'VerificationModeMismatch',
    )
    expect(err.args).toEqual([zkJob, 1])
    err = await expectRevert(
      commitZkResult(p.provider, {
        jobMarket,
        jobId: replayJob,
        proof: zeroProof,
        inputCommitment,
        outputCommitment: 1n,
      }),
      'VerificationModeMismatch',
    )
    expect(err.args).toEqual([replayJob, 0])
  })

  it('checks the caller, the signals and the proof before settling', async () => {
    const offer = await zkOffer()
    const { jobId } = await award(p.requester, { jobMarket, offer, ...(await makeBid(p, offer)) })
    const commit = (wallet = p.provider, input = inputCommitment, output = 1n) =>
      commitZkResult(wallet, {
        jobMarket,
        jobId,
        proof: zeroProof,
        inputCommitment: input,
        outputCommitment: output,
      })

    await expectRevert(commit(p.requester), 'NotProvider')
    let err = await expectRevert(commit(p.provider, inputCommitment, FIELD), 'PublicSignalOutOfField')
    expect(err.args).toEqual([2n, FIELD])
    // the input commitment plus p would pass a verifier that reduces mod p: refused before it
    err = await expectRevert(commit(p.provider, inputCommitment + FIELD), 'PublicSignalOutOfField')
    expect(err.args).toEqual([1n, inputCommitment + FIELD])
    err = await expectRevert(commit(p.provider, inputCommitment + 1n), 'InputCommitmentMismatch')
    expect(err.args).toEqual([jobId, inputCommitment, inputCommitment + 1n])
    // the stand-in verifier has no verifyProof: its revert counts as a rejected proof
    err = await expectRevert(commit(), 'InvalidZkProof')
    expect(err.args).toEqual([jobId])
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('awarded')
  })

  it('expires an unproven zk job like any other and forgets its terms', async () => {
    const now = await chainTime(p.admin)
    const offer = await zkOffer({ deadline: now + 100n })
    const { jobId } = await award(p.requester, {
      jobMarket,
      offer,
      ...(await makeBid(p, offer, { etaSeconds: 60 })),
    })
    await advance(p, 200)
    await expectRevert(
      commitZkResult(p.provider, {
        jobMarket,
        jobId,
        proof: zeroProof,
        inputCommitment,
        outputCommitment: 1n,
      }),
      'CommitDeadlinePassed',
    )
    await expire(p.other, { jobMarket, jobId })
    expect((await getJob(p.admin, { jobMarket, jobId })).status).toBe('expired')
    expect(await getZkTerms(p.admin, { jobMarket, jobId })).toBeUndefined()
  })

  it('refuses new zk awards once the entry is cleared', async () => {
    await clearZkModel(p.admin, { zkVerifierRegistry: registry, modelHash })
    const offer = await zkOffer()
    const { bid, signature } = await makeBid(p, offer)
    await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'ZkModelNotRegistered')
  })
})
