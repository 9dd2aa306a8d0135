import { getAddress, type Hex, keccak256, parseEther, toHex, zeroAddress } from 'viem'
import { getContractEvents, readContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  approveModel,
  award,
  defaultModelReleaseParameters,
  deprecateModel,
  getJob,
  getModel,
  jobMarketAbi,
  ModelStatus,
  modelRegistryAbi,
  ProtocolRole,
  parseDeployment,
  proposeModel,
  rejectModel,
  revokeModel,
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

const e = parseEther
const REVIEW = defaultModelReleaseParameters.minReviewPeriod
let p: Protocol
let registry: Hex
let jobMarket: Hex
const hashOf = (label: string) => keccak256(toHex(label))
const meta = (label: string) => ({
  storagePointer: `ipfs://bafy-${label}`,
  trainingSpecHash: hashOf(`${label} spec`),
  evaluationReportHash: hashOf(`${label} eval`),
})

beforeAll(async () => {
  p = await setupProtocol({ challengeWindow: 600, unbondingDelay: 3600n })
  const recorded = p.deployment.addresses.modelRegistry
  if (recorded === undefined) throw new Error('deployment did not record the model registry')
  registry = getAddress(recorded)
  jobMarket = p.deployment.addresses.jobMarket
  await stakeAs(p, p.provider, e('10000'))
  await approveMarket(p, p.requester, e('1000000'))
})
afterAll(async () => {
  await p?.chain.stop()
})

describe('ModelRegistry', () => {
  it('is wired into the JobMarket and its curator role by the deployment', async () => {
    const wired = await readContract(p.admin, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'modelRegistry',
    })
    expect(wired).toBe(registry)
    expect(p.deployment.roles.modelCurator).toBe(ProtocolRole.modelCurator)
  })

  it('walks a model through proposed, approved, deprecated and revoked, with events', async () => {
    const modelHash = hashOf('lifecycle model')
    expect(await getModel(p.admin, { modelRegistry: registry, modelHash })).toBeUndefined()

    const { receipt } = await proposeModel(p.other, { modelRegistry: registry, modelHash, ...meta('a') })
    const proposed = await getModel(p.admin, { modelRegistry: registry, modelHash })
    const now = Number(await chainTime(p.admin))
    expect(proposed).toEqual({
      modelHash,
      status: 'proposed',
      owner: p.other.account.address,
      ...meta('a'),
      proposedAt: now,
      updatedAt: now,
    })
    const [ev] = await getContractEvents(p.admin, {
      address: registry,
      abi: modelRegistryAbi,
      eventName: 'ModelProposed',
      fromBlock: receipt.blockNumber,
      toBlock: receipt.blockNumber,
    })
    expect(ev?.args).toEqual({ modelHash, owner: p.other.account.address, ...meta('a') })
    // the release gate's default review period passes before the approval
    await advance(p, REVIEW)

    const steps = [
      [approveModel, 'approved', ModelStatus.proposed, ModelStatus.approved],
      [deprecateModel, 'deprecated', ModelStatus.approved, ModelStatus.deprecated],
      [revokeModel, 'revoked', ModelStatus.deprecated, ModelStatus.revoked],
    ] as const
    for (const [action, status, from, to] of steps) {
      const { receipt: r } = await action(p.admin, { modelRegistry: registry, modelHash })
      expect((await getModel(p.admin, { modelRegistry: registry, modelHash }))?.status).toBe(status)
      const [changed] = await getContractEvents(p.admin, {
        address: registry,
        abi: modelRegistryAbi,
        eventName: 'ModelStatusChanged',
        fromBlock: r.blockNumber,
        toBlock: r.blockNumber,
      })
      expect(changed?.args).toEqual({ modelHash, from, to, by: p.admin.account.address })
    }
    // metadata and owner survive status changes
    const revoked = await getModel(p.admin, { modelRegistry: registry, modelHash })
    expect(revoked?.owner).toBe(p.other.account.address)
    expect(revoked?.storagePointer).toBe(meta('a').storagePointer)
  })

  it('refuses illegal transitions and bad proposals', async () => {
    const modelHash = hashOf('illegal model')
    const args = { modelRegistry: registry, modelHash }
    // nothing to approve, deprecate or reject before a proposal
    for (const [action, to] of [
      [approveModel, ModelStatus.approved],
      [deprecateModel, ModelStatus.deprecated],
      [rejectModel, ModelStatus.none],
    ] as const) {
      const err = await expectRevert(action(p.admin, args), 'InvalidModelTransition')
      expect(err.args).toEqual([modelHash, ModelStatus.none, to])
    }
    await proposeModel(p.other, { ...args, ...meta('b') })
    // proposing twice, deprecating before approval
    await expectRevert(proposeModel(p.provider, { ...args, ...meta('c') }), 'InvalidModelTransition')
    await expectRevert(deprecateModel(p.admin, args), 'InvalidModelTransition')
    await advance(p, REVIEW)
    await approveModel(p.admin, args)
    await expectRevert(approveModel(p.admin, args), 'InvalidModelTransition')
    await expectRevert(rejectModel(p.admin, args), 'InvalidModelTransition')
    await revokeModel(p.admin, args)
    // revoked is final
    for (const action of [approveModel, deprecateModel, rejectModel, revokeModel]) {
      await expectRevert(action(p.admin, args), 'InvalidModelTransition')
    }
    await expectRevert(proposeModel(p.other, { ...args, ...meta('d') }), 'InvalidModelTransition')

    const fresh = hashOf('bad proposal')
    const long = 'x'.repeat(257)
    const err = await expectRevert(
      proposeModel(p.other, {
        ...meta('e'),
        modelRegistry: registry,
        modelHash: fresh,
        storagePointer: long,
      }),
      'InvalidStoragePointer',
    )
    expect(err.args).toEqual([257n])
    await expectRevert(
      proposeModel(p.other, { ...meta('e'), modelRegistry: registry, modelHash: fresh, storagePointer: '' }),
      'InvalidStoragePointer',
    )
    await expectRevert(
      proposeModel(p.other, { ...meta('e'), modelRegistry: registry, modelHash: `0x${'00'.repeat(32)}` }),
      'InvalidModelHash',
    )
    // exactly at the bound is fine
    await proposeModel(p.other, {
      ...meta('e'),
      modelRegistry: registry,
      modelHash: fresh,
      storagePointer: 'x'.repeat(256),
    })
  })

  it('rejects a proposal so the hash can be proposed again, and revokes a never-proposed hash', async () => {
    const squatted = hashOf('squatted model')
    await proposeModel(p.other, { modelRegistry: registry, modelHash: squatted, ...meta('bogus') })
    await rejectModel(p.admin, { modelRegistry: registry, modelHash: squatted })
    expect(await getModel(p.admin, { modelRegistry: registry, modelHash: squatted })).toBeUndefined()
    await proposeModel(p.provider, { modelRegistry: registry, modelHash: squatted, ...meta('real') })
    const again = await getModel(p.admin, { modelRegistry: registry, modelHash: squatted })
    expect(again?.owner).toBe(p.provider.account.address)
    expect(again?.storagePointer).toBe(meta('real').storagePointer)

    const unknown = hashOf('never proposed')
    await revokeModel(p.admin, { modelRegistry: registry, modelHash: unknown })
    const revoked = await getModel(p.admin, { modelRegistry: registry, modelHash: unknown })
    expect(revoked?.status).toBe('revoked')
    expect(revoked?.owner).toBe(zeroAddress)
    expect(revoked?.proposedAt).toBe(0)
  })

  it('lets only the curator role change a status', async () => {
    const modelHash = hashOf('guarded model')
    await proposeModel(p.other, { modelRegistry: registry, modelHash, ...meta('g') })
    for (const action of [approveModel, rejectModel, revokeModel]) {
      const err = await expectRevert(
        action(p.other, { modelRegistry: registry, modelHash }),
        'AccessManagedUnauthorized',
      )
      expect(err.args).toEqual([p.other.account.address])
    }
    // the owner of a record gets no curation power from owning it
    expect((await getModel(p.admin, { modelRegistry: registry, modelHash }))?.status).toBe('proposed')
  })
})

describe('JobMarket award and the model registry', () => {
  it('refuses to award a revoked model while other models award, also unknown and approved ones', async () => {
    const bad = hashOf('revoked at award')
    const good = hashOf('approved at award')
    await proposeModel(p.other, { modelRegistry: registry, modelHash: good, ...meta('good') })
    await advance(p, REVIEW)
    await approveModel(p.admin, { modelRegistry: registry, modelHash: good })

    // a pending offer for `bad`, bid on before the model was revoked
    const pending = await makeOffer(p, { modelHash: bad })
    const pendingBid = await makeBid(p, pending)
    await revokeModel(p.admin, { modelRegistry: registry, modelHash: bad })
    const err = await expectRevert(
      award(p.requester, { jobMarket, offer: pending, ...pendingBid }),
      'ModelRevoked',
    )
    expect(err.args).toEqual([bad])

    for (const modelHash of [good, hashOf('unknown at award')]) {
      const offer = await makeOffer(p, { modelHash })
      const { jobId } = await award(p.requester, { jobMarket, offer, ...(await makeBid(p, offer)) })
      expect((await getJob(p.admin, { jobMarket, jobId }))?.status).toBe('awarded')
    }
  })
})

describe('deployment files', () => {
  it('round-trip the registry and parse older files without it', () => {
    const json = JSON.stringify(p.deployment, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
    expect(parseDeployment(json).addresses.modelRegistry).toBe(p.deployment.addresses.modelRegistry)
    const older = JSON.parse(json)
    delete older.addresses.modelRegistry
    delete older.roles.modelCurator
    const parsed = parseDeployment(JSON.stringify(older))
    expect(parsed.addresses.modelRegistry).toBeUndefined()
    expect('modelRegistry' in parsed.addresses).toBe(false)
    expect(parsed.addresses.jobMarket).toBe(p.deployment.addresses.jobMarket)
  })
})
