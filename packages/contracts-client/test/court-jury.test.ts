// The DisputeCourt's jury on a real anvil: silent jurors reach a defined outcome with nothing
// locked, a colluding minority loses stake to the coherent majority, an appeal to a larger jury
// overturns a bought ruling, and a stale draw block is re-targeted. Money to the wei.
import { type Address, parseEventLogs } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  appealDispute,
  approveToken,
  CourtPhase,
  CourtRuling,
  disputeCourtAbi,
  drawJury,
  executeDispute,
  finalize,
  getCourtDispute,
  getCourtRound,
  getJuror,
  setCourtParams,
} from '../src/index.js'
import {
  advance,
  type CourtProtocol,
  commitLeafChallenge,
  committedJob,
  courtBalance,
  drawVoteRule,
  e,
  expectedJury,
  FORGED_LEAF,
  lockedOf,
  makeVerifier,
  reveal,
  type Seat,
  setupCourt,
  snapshot,
  trueData,
} from './court-helpers.js'
import { expectRevert, stakeAs } from './helpers.js'

let p: CourtProtocol
const PRICE = e('40')
const COLLATERAL = e('200')

beforeAll(async () => {
  p = await setupCourt()
  await stakeAs(p, p.provider, e('1000'))
  await makeVerifier(p, p.verifier)
  await approveProviderForAppeals()
}, 120_000)

afterAll(async () => {
  await p?.chain.stop()
})

async function approveProviderForAppeals(): Promise<void> {
  await approveToken(p.provider, { token: p.deployment.addresses.token, spender: p.court, amount: e('1000') })
}

function everyone(): Address[] {
  return [
    p.requester.account.address,
    p.provider.account.address,
    p.verifier.account.address,
    ...p.jurors.map((j) => j.account.address),
  ]
}

async function deltas(before: Map<Address, bigint>): Promise<Map<Address, bigint>> {
  const after = await snapshot(p, everyone())
  return new Map([...after].map(([a, v]) => [a, v - (before.get(a) ?? 0n)]))
}

function expectJurors(actual: Map<Address, bigint>, expected: Map<Address, bigint>): void {
  for (const j of p.jurors) {
    const a = j.account.address
    expect(actual.get(a), `juror ${a}`).toBe(expected.get(a) ?? 0n)
  }
}

async function expectNothingLocked(): Promise<void> {
  expect(await courtBalance(p)).toBe(0n)
  expect(await lockedOf(p, p.verifier.account.address)).toBe(0n)
  for (const j of p.jurors) {
    expect((await getJuror(p.admin, { disputeCourt: p.court, juror: j.account.address })).activeSeats).toBe(
      0n,
    )
  }
}

function cheatMoney() {
  const m = p.deployment.params
  const penalty = (COLLATERAL * BigInt(m.cheatSlashBps)) / 10_000n
  const reward = (penalty * BigInt(m.challengerRewardBps)) / 10_000n
  const juryShare = (penalty * BigInt(p.courtParams.juryShareBps)) / 10_000n
  return { penalty, reward, juryShare }
}

describe('DisputeCourt jury', () => {
  it('silent jurors: a redraw, then NOT_PROVEN; silent seats pay the treasury; nothing stays locked', async () => {
    const c = p.courtParams
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p, trueData)
    const ch = await commitLeafChallenge(p, p.verifier, jobId, 2, trueData[4])
    await reveal(p, p.verifier, ch)
    // while open, the court holds exactly the open bond
    expect(await courtBalance(p)).toBe(c.challengeBond)
    const first = await drawVoteRule(p, ch.disputeId, () => null)
    const afterFirst = await getCourtDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    expect(afterFirst.phase).toBe(CourtPhase.awaitingDraw)
    const second = await drawVoteRule(p, ch.disputeId, () => null)
    const ruled = await getCourtDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    expect(ruled.ruling).toBe(CourtRuling.notProven)
    expect(await courtBalance(p)).toBe(c.challengeBond)
    await advance(p, c.appealPeriod + p.deployment.params.challengeWindow)
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    await finalize(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId })

    const d = await deltas(before)
    const seats: Seat[] = [...first, ...second]
    const jury = expectedJury(seats, CourtRuling.notProven, 0n, c.jurorPenalty)
    const fee = (PRICE * BigInt(p.deployment.params.protocolFeeBps)) / 10_000n
    expect(d.get(p.verifier.account.address)).toBe(0n)
    expect(d.get(p.provider.account.address)).toBe(PRICE - fee)
    expectJurors(d, jury.deltas)
    expect(jury.toTreasury).toBe(c.jurorPenalty * BigInt(seats.length))
    expect(d.get(p.treasury.account.address)).toBe(fee + jury.toTreasury)
    await expectNothingLocked()
  }, 120_000)

  it('colluding minority jurors lose their penalty to the coherent majority', async () => {
    const c = p.courtParams
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p)
    const ch = await commitLeafChallenge(p, p.verifier, jobId, FORGED_LEAF)
    await reveal(p, p.verifier, ch)
    let first: Address | undefined
    const seats = await drawVoteRule(p, ch.disputeId, (juror) => {
      first ??= juror
      return juror === first ? 2 : 1
    })
    await advance(p, c.appealPeriod + 1)
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    const { penalty, reward, juryShare } = cheatMoney()
    const jury = expectedJury(seats, CourtRuling.guilty, juryShare, c.jurorPenalty)
    const d = await deltas(before)
    expect(d.get(first!)).toBe(-c.jurorPenalty)
    expectJurors(d, jury.deltas)
    expect(d.get(p.verifier.account.address)).toBe(reward)
    expect(d.get(p.provider.account.address)).toBe(-penalty)
    expect(d.get(p.requester.account.address)).toBe(0n)
    expect(d.get(p.treasury.account.address)).toBe(penalty - reward - juryShare + jury.toTreasury)
    await expectNothingLocked()
  }, 120_000)

  it('appeal: a bought one-juror ruling is overturned by 2n+1 jurors; the appellant is made whole', async () => {
    await setCourtParams(p.admin, {
      disputeCourt: p.court,
      params: { ...p.courtParams, jurySize: 1, maxRounds: 2 },
    })
    const c = { ...p.courtParams, jurySize: 1, maxRounds: 2 }
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p)
    const ch = await commitLeafChallenge(p, p.verifier, jobId, FORGED_LEAF)
    await reveal(p, p.verifier, ch)
    const bought = await drawVoteRule(p, ch.disputeId, () => 2)
    expect(bought).toHaveLength(1)
    // only the losing party may appeal
    await expectRevert(
      appealDispute(p.provider, { disputeCourt: p.court, disputeId: ch.disputeId }),
      'NotLosingParty',
    )
    const { receipt } = await appealDispute(p.verifier, { disputeCourt: p.court, disputeId: ch.disputeId })
    const [appealed] = parseEventLogs({ abi: disputeCourtAbi, eventName: 'Appealed', logs: receipt.logs })
    expect(appealed?.args.bond).toBe(c.challengeBond * 2n)
    expect(await courtBalance(p)).toBe(c.challengeBond * 3n)
    const fair = await drawVoteRule(p, ch.disputeId, () => 1)
    expect(fair).toHaveLength(3)
    const round = await getCourtRound(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    expect(round.index).toBe(1n)
    // the last round allowed was ruled: no appeal left, so it executes at once
    await expectRevert(
      appealDispute(p.provider, { disputeCourt: p.court, disputeId: ch.disputeId }),
      'NoAppealLeft',
    )
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })

    const { penalty, reward, juryShare } = cheatMoney()
    const jury = expectedJury([...bought, ...fair], CourtRuling.guilty, juryShare, c.jurorPenalty)
    const d = await deltas(before)
    expect(d.get(p.verifier.account.address)).toBe(reward)
    expect(d.get(p.provider.account.address)).toBe(-penalty)
    expectJurors(d, jury.deltas)
    expect(d.get(p.treasury.account.address)).toBe(penalty - reward - juryShare + jury.toTreasury)
    await expectNothingLocked()
    await setCourtParams(p.admin, { disputeCourt: p.court, params: p.courtParams })
  }, 120_000)

  it('a provider appeal it loses costs it the appeal bond, which goes to jury and treasury', async () => {
    await setCourtParams(p.admin, {
      disputeCourt: p.court,
      params: { ...p.courtParams, jurySize: 1, maxRounds: 2 },
    })
    const c = { ...p.courtParams, jurySize: 1, maxRounds: 2 }
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p)
    const ch = await commitLeafChallenge(p, p.verifier, jobId, FORGED_LEAF)
    await reveal(p, p.verifier, ch)
    const r0 = await drawVoteRule(p, ch.disputeId, () => 1)
    await appealDispute(p.provider, { disputeCourt: p.court, disputeId: ch.disputeId })
    const r1 = await drawVoteRule(p, ch.disputeId, () => 1)
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    const { penalty, reward, juryShare } = cheatMoney()
    const appealBond = c.challengeBond * 2n
    const juryFromBond = (appealBond * BigInt(c.juryShareBps)) / 10_000n
    const jury = expectedJury([...r0, ...r1], CourtRuling.guilty, juryShare + juryFromBond, c.jurorPenalty)
    const d = await deltas(before)
    expect(d.get(p.provider.account.address)).toBe(-penalty - appealBond)
    expect(d.get(p.verifier.account.address)).toBe(reward)
    expectJurors(d, jury.deltas)
    expect(d.get(p.treasury.account.address)).toBe(
      penalty - reward - juryShare + appealBond - juryFromBond + jury.toTreasury,
    )
    await expectNothingLocked()
    await setCourtParams(p.admin, { disputeCourt: p.court, params: p.courtParams })
  }, 120_000)

  it('a draw block older than 256 blocks is re-targeted, then drawn', async () => {
    const jobId = await committedJob(p, trueData)
    const ch = await commitLeafChallenge(p, p.verifier, jobId, 1, trueData[2])
    await reveal(p, p.verifier, ch)
    await p.test.mine({ blocks: 300 })
    const { receipt } = await drawJury(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    expect(
      parseEventLogs({ abi: disputeCourtAbi, eventName: 'DrawRetargeted', logs: receipt.logs }),
    ).toHaveLength(1)
    const seats = await drawVoteRule(p, ch.disputeId, () => 2)
    expect(seats).toHaveLength(p.courtParams.jurySize)
    await advance(p, p.courtParams.appealPeriod + 1)
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    await expectNothingLocked()
  }, 120_000)
})
