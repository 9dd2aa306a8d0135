// Gated model releases on a real anvil with the real protocol and court: approval waits for the
// anchored evaluation report, the governed review period and the objections; the ModelMonitor
// suspends a model once a real jury convicted one of its jobs, and only governance reinstates it.
import { MerkleTree } from '@ocn/protocol'
import { type Address, type Hex, keccak256, toHex } from 'viem'
import { readContract, writeContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  anchorEvaluationReport,
  approveModel,
  approveToken,
  award,
  commitResult,
  defaultModelReleaseParameters,
  disputeCourtAbi,
  executeDispute,
  getModel,
  getModelDisputeTally,
  getModelReview,
  getTokenBalance,
  modelMonitorAbi,
  modelRegistryAbi,
  objectToModel,
  proposeModel,
  reinstateModel,
  rejectModel,
  reportModelDispute,
  resolveObjection,
} from '../src/index.js'
import {
  advance,
  type CourtProtocol,
  commitLeafChallenge,
  drawVoteRule,
  e,
  FORGED_LEAF,
  forgedData,
  honestChoice,
  makeVerifier,
  reveal,
  setupCourt,
} from './court-helpers.js'
import { approveMarket, expectRevert, makeBid, makeOffer, stakeAs } from './helpers.js'

let p: CourtProtocol
let registry: Address
let monitor: Address
let deployedRelease: { minReviewPeriod: number; objectionBond: bigint }
const REVIEW = 3600
const BOND = defaultModelReleaseParameters.objectionBond
const h = (label: string) => keccak256(toHex(label))
const balance = (account: Address) =>
  getTokenBalance(p.admin, { token: p.deployment.addresses.token, account })
const propose = (label: string, report: Hex = h(`${label} eval`)) =>
  proposeModel(p.requester, {
    modelRegistry: registry,
    modelHash: h(label),
    storagePointer: `ipfs://${label}`,
    trainingSpecHash: h(`${label} spec`),
    evaluationReportHash: report,
  })

beforeAll(async () => {
  // a first jury of three, all of a pool of three: cheaper than the court tests' pool of eight
  p = await setupCourt({ jurySize: 3 }, {}, 3)
  registry = p.deployment.addresses.modelRegistry as Address
  monitor = p.deployment.addresses.modelMonitor as Address
  deployedRelease = await readContract(p.admin, {
    address: registry,
    abi: modelRegistryAbi,
    functionName: 'releaseParams',
  })
  await writeContract(p.admin, {
    address: registry,
    abi: modelRegistryAbi,
    functionName: 'setReleaseParams',
    args: [{ minReviewPeriod: REVIEW, objectionBond: BOND }],
  })
  await approveToken(p.other, { token: p.deployment.addresses.token, spender: registry, amount: e('1000') })
}, 120_000)
afterAll(async () => {
  await p?.chain.stop()
})

describe('ModelRegistry release gate', () => {
  it('is deployed with a non-zero review period', () => {
    expect(deployedRelease).toEqual(defaultModelReleaseParameters)
    expect(deployedRelease.minReviewPeriod).toBe(3 * 24 * 3600)
  })

  it('bounds and restricts the gate parameters', async () => {
    const set = (minReviewPeriod: number, from = p.admin) =>
      writeContract(from, {
        address: registry,
        abi: modelRegistryAbi,
        functionName: 'setReleaseParams',
        args: [{ minReviewPeriod, objectionBond: BOND }],
      })
    await expect(set(91 * 24 * 3600)).rejects.toThrow(/InvalidReleaseParams|reverted/)
    await expect(set(REVIEW, p.other)).rejects.toThrow(/AccessManagedUnauthorized|reverted/)
  })

  it('approves only after the report is anchored, the review is over and no objection is open', async () => {
    const modelHash = h('gated')
    await propose('gated', `0x${'00'.repeat(32)}`)
    await expectRevert(approveModel(p.admin, { modelRegistry: registry, modelHash }), 'ReportNotAnchored')
    await expectRevert(
      anchorEvaluationReport(p.other, { modelRegistry: registry, modelHash, reportHash: h('r') }),
      'NotModelOwner',
    )
    await expectRevert(
      anchorEvaluationReport(p.requester, {
        modelRegistry: registry,
        modelHash,
        reportHash: `0x${'00'.repeat(32)}`,
      }),
      'ReportNotAnchored',
    )
    await anchorEvaluationReport(p.requester, { modelRegistry: registry, modelHash, reportHash: h('report') })
    expect((await getModel(p.admin, { modelRegistry: registry, modelHash }))?.evaluationReportHash).toBe(
      h('report'),
    )
    await expectRevert(approveModel(p.admin, { modelRegistry: registry, modelHash }), 'ReviewNotOver')

    const objectorBefore = await balance(p.other.account.address)
    const ownerBefore = await balance(p.requester.account.address)
    await objectToModel(p.other, { modelRegistry: registry, modelHash, reasonHash: h('looks bad') })
    expect((await getModelReview(p.admin, { modelRegistry: registry, modelHash })).objection?.bond).toBe(BOND)
    await expectRevert(
      objectToModel(p.other, { modelRegistry: registry, modelHash, reasonHash: h('again') }),
      'ObjectionOpen',
    )
    await advance(p, REVIEW)
    await expectRevert(approveModel(p.admin, { modelRegistry: registry, modelHash }), 'ObjectionOpen')
    await expectRevert(
      resolveObjection(p.other, { modelRegistry: registry, modelHash, upheld: false }),
      'AccessManagedUnauthorized',
    )
    // dismissed: the bond compensates the owner whose release it delayed
    await resolveObjection(p.admin, { modelRegistry: registry, modelHash, upheld: false })
    expect(await balance(p.other.account.address)).toBe(objectorBefore - BOND)
    expect(await balance(p.requester.account.address)).toBe(ownerBefore + BOND)
    await expectRevert(
      resolveObjection(p.admin, { modelRegistry: registry, modelHash, upheld: false }),
      'NoObjection',
    )
    await approveModel(p.admin, { modelRegistry: registry, modelHash })
    expect((await getModel(p.admin, { modelRegistry: registry, modelHash }))?.status).toBe('approved')
    await expectRevert(
      objectToModel(p.other, { modelRegistry: registry, modelHash, reasonHash: h('late') }),
      'InvalidModelTransition',
    )
  })

  it('an upheld objection deletes the proposal and refunds the objector; so does a rejection', async () => {
    for (const [label, end] of [
      ['objected', 'uphold'],
      ['rejected', 'reject'],
    ] as const) {
      const modelHash = h(label)
      await propose(label)
      const before = await balance(p.other.account.address)
      await objectToModel(p.other, { modelRegistry: registry, modelHash, reasonHash: h('harmful') })
      if (end === 'uphold')
        await resolveObjection(p.admin, { modelRegistry: registry, modelHash, upheld: true })
      else await rejectModel(p.admin, { modelRegistry: registry, modelHash })
      expect(await balance(p.other.account.address)).toBe(before)
      expect(await getModel(p.admin, { modelRegistry: registry, modelHash })).toBeUndefined()
      expect(
        (await getModelReview(p.admin, { modelRegistry: registry, modelHash })).objection,
      ).toBeUndefined()
    }
  })
})

describe('ModelMonitor', () => {
  it('suspends a model once its jobs lose disputes past the threshold; governance reinstates it', async () => {
    const modelHash = h('monitored')
    await propose('monitored')
    await advance(p, REVIEW)
    await approveModel(p.admin, { modelRegistry: registry, modelHash })
    const setMonitor = (window: number, maxLostBps: number, minDisputes: number) =>
      writeContract(p.admin, {
        address: monitor,
        abi: modelMonitorAbi,
        functionName: 'setParams',
        args: [{ window, maxLostBps, minDisputes }],
      })
    const bounds: [number, number, number][] = [
      [60, 5_000, 1],
      [24 * 3600, 10_000, 1],
      [24 * 3600, 5_000, 0],
    ]
    for (const [window, maxLost, min] of bounds) {
      await expect(setMonitor(window, maxLost, min)).rejects.toThrow(/InvalidParams|reverted/)
    }
    await setMonitor(24 * 3600, 5_000, 1)

    // a job on the model whose provider forged a leaf, challenged and convicted by a real jury
    await stakeAs(p, p.provider, e('1000'))
    await makeVerifier(p, p.verifier)
    const offer = await makeOffer(p, { modelHash, sampleCount: forgedData.length, microBatchSize: 1 })
    const { bid, signature } = await makeBid(p, offer)
    await approveMarket(p, p.requester, bid.price)
    await award(p.requester, { jobMarket: p.deployment.addresses.jobMarket, offer, bid, signature })
    await commitResult(p.provider, {
      jobMarket: p.deployment.addresses.jobMarket,
      jobId: bid.jobId,
      resultRoot: MerkleTree.fromDataHashes([...forgedData]).root,
      leafCount: forgedData.length,
    })
    const challenge = await commitLeafChallenge(p, p.verifier, bid.jobId, FORGED_LEAF)
    const report = () =>
      reportModelDispute(p.other, { modelMonitor: monitor, offer, disputeId: challenge.disputeId })
    await expectRevert(report(), 'DisputeNotClosed')
    await reveal(p, p.verifier, challenge)
    await drawVoteRule(p, challenge.disputeId, () => honestChoice(BigInt(FORGED_LEAF)))
    await advance(p, p.courtParams.appealPeriod + 1)
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: challenge.disputeId })
    // the monitor reads only this view of the court (IDisputeCourt), never its Dispute struct
    const outcome = (disputeId: bigint) =>
      readContract(p.admin, {
        address: p.court,
        abi: disputeCourtAbi,
        functionName: 'disputeOutcome',
        args: [disputeId],
      })
    expect(await outcome(challenge.disputeId)).toEqual([bid.jobId, true, 1])
    expect(await outcome(10_000n)).toEqual([`0x${'0'.repeat(64)}`, false, 0])

    const other = await makeOffer(p, { modelHash })
    await expectRevert(
      reportModelDispute(p.other, { modelMonitor: monitor, offer: other, disputeId: challenge.disputeId }),
      'DisputeJobMismatch',
    )
    await report()
    expect(await getModelDisputeTally(p.admin, { modelMonitor: monitor, modelHash })).toMatchObject({
      disputes: 1,
      lost: 1,
    })
    expect((await getModel(p.admin, { modelRegistry: registry, modelHash }))?.status).toBe('suspended')
    await expectRevert(report(), 'AlreadyReported')
    await expect(
      writeContract(p.other, {
        address: registry,
        abi: modelRegistryAbi,
        functionName: 'suspendModel',
        args: [modelHash],
      }),
    ).rejects.toThrow(/AccessManagedUnauthorized|reverted/)
    await expectRevert(
      reinstateModel(p.other, { modelRegistry: registry, modelHash }),
      'AccessManagedUnauthorized',
    )
    await reinstateModel(p.admin, { modelRegistry: registry, modelHash })
    expect((await getModel(p.admin, { modelRegistry: registry, modelHash }))?.status).toBe('approved')
  })
})
