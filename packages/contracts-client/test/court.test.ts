// The DisputeCourt against the attacks of issue 12, on a real anvil with the real contracts and
// the default court parameters: the self-challenge pair and the copycat no longer profit, a false
// challenger pays the jury and the treasury (never the provider it accused), and a job cannot be
// finalized while a dispute on it is open. Money is checked to the wei. A challenger may concede
// before a jury is drawn, for `concessionFee`: that reopens none of those attacks.
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CourtRuling,
  concedeChallenge,
  executeDispute,
  expireChallenge,
  finalize,
  getCourtDispute,
  getJob,
  leaveJury,
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
  honestChoice,
  JUROR_STAKE,
  lockedOf,
  makeVerifier,
  reveal,
  setupCourt,
  snapshot,
  trueData,
  walletOf,
} from './court-helpers.js'
import { expectRevert, stakeAs } from './helpers.js'

let p: CourtProtocol
const PRICE = e('40')
const COLLATERAL = e('200')

beforeAll(async () => {
  p = await setupCourt()
  await stakeAs(p, p.provider, e('1000'))
  await makeVerifier(p, p.verifier)
  await makeVerifier(p, p.other)
  await makeVerifier(p, p.extra)
}, 120_000)

afterAll(async () => {
  await p?.chain.stop()
})

function everyone(): Address[] {
  return [
    p.requester.account.address,
    p.provider.account.address,
    p.verifier.account.address,
    p.other.account.address,
    p.extra.account.address,
    ...p.jurors.map((j) => j.account.address),
  ]
}

function deltas(before: Map<Address, bigint>, after: Map<Address, bigint>): Map<Address, bigint> {
  return new Map([...after].map(([a, v]) => [a, v - (before.get(a) ?? 0n)]))
}

function sumJurors(d: Map<Address, bigint>): bigint {
  return p.jurors.reduce((acc, j) => acc + (d.get(j.account.address) ?? 0n), 0n)
}

/** Adds per-juror expectations of several disputes. */
function mergeJury(...parts: Map<Address, bigint>[]): Map<Address, bigint> {
  const m = new Map<Address, bigint>()
  for (const part of parts) for (const [a, v] of part) m.set(a, (m.get(a) ?? 0n) + v)
  return m
}

function expectJurors(actual: Map<Address, bigint>, expected: Map<Address, bigint>): void {
  for (const j of p.jurors) {
    const a = j.account.address
    expect(actual.get(a), `juror ${a}`).toBe(expected.get(a) ?? 0n)
  }
}

const honest = (leaf: bigint) => () => honestChoice(leaf)

describe('DisputeCourt against the attacks of issue 12', () => {
  it('self-challenge: the sock puppet cannot block the real verifier; the pair loses, to the wei', async () => {
    const { courtParams: c } = p
    const market = p.deployment.params
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p)

    // the provider's second account commits first, on an honest leaf; the real verifier after it
    const puppet = await commitLeafChallenge(p, p.other, jobId, 0, trueData[5])
    const real = await commitLeafChallenge(p, p.verifier, jobId, FORGED_LEAF)
    await reveal(p, p.other, puppet)
    await reveal(p, p.verifier, real)

    const puppetSeats = await drawVoteRule(p, puppet.disputeId, honest(0n))
    const realSeats = await drawVoteRule(p, real.disputeId, honest(BigInt(FORGED_LEAF)))
    for (const seats of [puppetSeats, realSeats]) {
      const excluded = [p.provider, p.requester, p.other, p.verifier].map((w) => w.account.address)
      expect(seats.some((s) => excluded.includes(s.juror))).toBe(false)
      expect(new Set(seats.map((s) => s.juror)).size).toBe(c.jurySize)
    }
    expect(
      (await getCourtDispute(p.admin, { disputeCourt: p.court, disputeId: real.disputeId })).ruling,
    ).toBe(CourtRuling.guilty)

    // the window is over, but the job stays held while either dispute is open
    await advance(p, market.challengeWindow + c.appealPeriod)
    await expectRevert(
      finalize(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId }),
      'DisputeOpen',
    )
    // the reward goes to the earliest committed upheld challenge: the later one waits
    await expectRevert(
      executeDispute(p.admin, { disputeCourt: p.court, disputeId: real.disputeId }),
      'EarlierDisputeOpen',
    )
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: puppet.disputeId })
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: real.disputeId })
    const job = await getJob(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId })
    expect(job.status).toBe('providerSlashed')
    expect(job.openDisputes).toBe(0)
    await expectRevert(
      finalize(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId }),
      'InvalidJobStatus',
    )

    const d = deltas(before, await snapshot(p, everyone()))
    const penalty = (COLLATERAL * BigInt(market.cheatSlashBps)) / 10_000n
    const reward = (penalty * BigInt(market.challengerRewardBps)) / 10_000n
    const juryShare = (penalty * BigInt(c.juryShareBps)) / 10_000n
    const puppetLoss =
      c.challengeBond + (c.challengerStakeAtRisk * BigInt(c.falseChallengeSlashBps)) / 10_000n
    const puppetJury = (puppetLoss * BigInt(c.juryShareBps)) / 10_000n
    const j1 = expectedJury(puppetSeats, CourtRuling.notGuilty, puppetJury, c.jurorPenalty)
    const j2 = expectedJury(realSeats, CourtRuling.guilty, juryShare, c.jurorPenalty)

    expect(d.get(p.provider.account.address)).toBe(-penalty)
    expect(d.get(p.other.account.address)).toBe(-puppetLoss)
    // the pair lost collateral and the puppet's bond and stake: no profit, and no payout for the forgery
    expect(d.get(p.provider.account.address)! + d.get(p.other.account.address)!).toBe(-(e('200') + e('35')))
    expect(d.get(p.verifier.account.address)).toBe(reward)
    expect(d.get(p.requester.account.address)).toBe(0n)
    expectJurors(d, mergeJury(j1.deltas, j2.deltas))
    expect(d.get(p.treasury.account.address)).toBe(
      penalty - reward - juryShare + puppetLoss - puppetJury + j1.toTreasury + j2.toTreasury,
    )
    expect([...d.values()].reduce((a, b) => a + b, 0n)).toBe(0n)
    expect(await courtBalance(p)).toBe(0n)
    for (const w of [p.other, p.verifier, ...p.jurors]) {
      expect(await lockedOf(p, w.account.address)).toBe(w === p.other || w === p.verifier ? 0n : JUROR_STAKE)
    }
  }, 120_000)

  it('copied challenge: the copier commits later and gets nothing; the finder gets the reward', async () => {
    const { courtParams: c } = p
    const market = p.deployment.params
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p)
    const found = await commitLeafChallenge(p, p.verifier, jobId, FORGED_LEAF)
    await reveal(p, p.verifier, found)
    // the copier read the reveal (leaf and hash) and challenges the same leaf with the same claim
    const copy = await commitLeafChallenge(p, p.extra, jobId, FORGED_LEAF, found.claimedDataHash)
    await reveal(p, p.extra, copy)
    const copySeats = await drawVoteRule(p, copy.disputeId, honest(BigInt(FORGED_LEAF)))
    const foundSeats = await drawVoteRule(p, found.disputeId, honest(BigInt(FORGED_LEAF)))
    await advance(p, c.appealPeriod + 1)
    await expectRevert(
      executeDispute(p.admin, { disputeCourt: p.court, disputeId: copy.disputeId }),
      'EarlierDisputeOpen',
    )
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: found.disputeId })
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: copy.disputeId })

    const d = deltas(before, await snapshot(p, everyone()))
    const penalty = (COLLATERAL * BigInt(market.cheatSlashBps)) / 10_000n
    const reward = (penalty * BigInt(market.challengerRewardBps)) / 10_000n
    const juryShare = (penalty * BigInt(c.juryShareBps)) / 10_000n
    const j1 = expectedJury(foundSeats, CourtRuling.guilty, juryShare, c.jurorPenalty)
    const j2 = expectedJury(copySeats, CourtRuling.guilty, 0n, c.jurorPenalty)
    expect(d.get(p.verifier.account.address)).toBe(reward)
    expect(d.get(p.extra.account.address)).toBe(0n)
    expect(d.get(p.provider.account.address)).toBe(-penalty)
    expectJurors(d, mergeJury(j1.deltas, j2.deltas))
    expect(d.get(p.treasury.account.address)).toBe(
      penalty - reward - juryShare + j1.toTreasury + j2.toTreasury,
    )
    expect(await courtBalance(p)).toBe(0n)
    expect(await lockedOf(p, p.extra.account.address)).toBe(0n)
  }, 120_000)

  it('false challenge: the challenger loses bond and stake to jury and treasury; the provider gains nothing from it', async () => {
    const { courtParams: c } = p
    const market = p.deployment.params
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p, trueData)
    const wrong: Hex = trueData[6]!
    const ch = await commitLeafChallenge(p, p.verifier, jobId, 2, wrong)
    await reveal(p, p.verifier, ch)
    // a juror sitting in an open dispute cannot walk away with its stake
    const seats = await drawVoteRule(p, ch.disputeId, () => 2)
    await expectRevert(leaveJury(walletOf(p, seats[0]!.juror), { disputeCourt: p.court }), 'JurorBusy')
    await expectRevert(
      executeDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId }),
      'AppealPeriodOpen',
    )
    await advance(p, market.challengeWindow)
    await expectRevert(
      finalize(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId }),
      'DisputeOpen',
    )
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    await finalize(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId })

    const d = deltas(before, await snapshot(p, everyone()))
    const fee = (PRICE * BigInt(market.protocolFeeBps)) / 10_000n
    const loss = c.challengeBond + (c.challengerStakeAtRisk * BigInt(c.falseChallengeSlashBps)) / 10_000n
    const juryCut = (loss * BigInt(c.juryShareBps)) / 10_000n
    const j = expectedJury(seats, CourtRuling.notGuilty, juryCut, c.jurorPenalty)
    expect(d.get(p.verifier.account.address)).toBe(-loss)
    // exactly what an unchallenged job pays: nothing of the challenger's loss
    expect(d.get(p.provider.account.address)).toBe(PRICE - fee)
    expect(d.get(p.requester.account.address)).toBe(-PRICE)
    expectJurors(d, j.deltas)
    expect(sumJurors(d)).toBe(juryCut - j.toTreasury)
    expect(d.get(p.treasury.account.address)).toBe(fee + loss - juryCut + j.toTreasury)
    expect(await courtBalance(p)).toBe(0n)
    // free again: the juror may leave now
    await leaveJury(walletOf(p, seats[0]!.juror), { disputeCourt: p.court })
    expect(await lockedOf(p, seats[0]!.juror)).toBe(0n)
  }, 120_000)

  it('an unrevealed challenge expires: bond to the treasury, stake unlocked, the job settles', async () => {
    const { courtParams: c } = p
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p, trueData)
    const ch = await commitLeafChallenge(p, p.verifier, jobId, 1)
    expect(await courtBalance(p)).toBe(c.challengeBond)
    await expectRevert(
      expireChallenge(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId }),
      'RevealPeriodOpen',
    )
    await advance(p, c.revealPeriod + 1)
    await expectRevert(reveal(p, p.verifier, ch), 'RevealPeriodOver')
    await expireChallenge(p.admin, { disputeCourt: p.court, disputeId: ch.disputeId })
    const market = p.deployment.params
    await advance(p, market.challengeWindow)
    await finalize(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId })
    const d = deltas(before, await snapshot(p, everyone()))
    const fee = (PRICE * BigInt(market.protocolFeeBps)) / 10_000n
    expect(d.get(p.verifier.account.address)).toBe(-c.challengeBond)
    expect(d.get(p.provider.account.address)).toBe(PRICE - fee)
    expect(d.get(p.treasury.account.address)).toBe(fee + c.challengeBond)
    expect(await courtBalance(p)).toBe(0n)
    expect(await lockedOf(p, p.verifier.account.address)).toBe(0n)
  }, 120_000)

  it('refuses challenges by the job parties, without stake, and outside the window', async () => {
    const jobId = await committedJob(p, trueData)
    await makeVerifier(p, p.requester, e('200'))
    await expectRevert(commitLeafChallenge(p, p.requester, jobId, 0), 'PartyCannotChallenge')
    await expectRevert(commitLeafChallenge(p, p.admin, jobId, 0), 'VerifierStakeTooLow')
    const market = p.deployment.params
    await advance(p, market.challengeWindow)
    await expectRevert(commitLeafChallenge(p, p.verifier, jobId, 0), 'ChallengeWindowClosed')
  }, 120_000)
})

describe('conceding a challenge before the jury is drawn', () => {
  it('sock puppet: its insurance challenge conceded, the real verifier still convicts; the pair loses the fee on top', async () => {
    const { courtParams: c } = p
    const market = p.deployment.params
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p)
    // the cheater's second account commits a true challenge first, to take the reward if caught
    const puppet = await commitLeafChallenge(p, p.other, jobId, FORGED_LEAF)
    const real = await commitLeafChallenge(p, p.verifier, jobId, FORGED_LEAF)
    await reveal(p, p.verifier, real)
    // nobody but the challenger concedes, and the jury of a mined draw block is nobody's option
    await expectRevert(
      concedeChallenge(p.provider, { disputeCourt: p.court, disputeId: puppet.disputeId }),
      'NotChallenger',
    )
    await concedeChallenge(p.other, { disputeCourt: p.court, disputeId: puppet.disputeId })
    await expectRevert(
      concedeChallenge(p.other, { disputeCourt: p.court, disputeId: puppet.disputeId }),
      'WrongPhase',
    )
    await p.test.mine({ blocks: c.drawDelay + 1 })
    await expectRevert(
      concedeChallenge(p.verifier, { disputeCourt: p.court, disputeId: real.disputeId }),
      'JuryKnowable',
    )
    const seats = await drawVoteRule(p, real.disputeId, honest(BigInt(FORGED_LEAF)))
    await advance(p, c.appealPeriod + 1)
    // the conceded earlier dispute is closed: the real one executes at once and takes the reward
    await executeDispute(p.admin, { disputeCourt: p.court, disputeId: real.disputeId })
    const job = await getJob(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId })
    expect(job.status).toBe('providerSlashed')
    expect(job.openDisputes).toBe(0)

    const d = deltas(before, await snapshot(p, everyone()))
    const penalty = (COLLATERAL * BigInt(market.cheatSlashBps)) / 10_000n
    const reward = (penalty * BigInt(market.challengerRewardBps)) / 10_000n
    const juryShare = (penalty * BigInt(c.juryShareBps)) / 10_000n
    const j = expectedJury(seats, CourtRuling.guilty, juryShare, c.jurorPenalty)
    expect(d.get(p.other.account.address)).toBe(-c.concessionFee)
    expect(d.get(p.provider.account.address)).toBe(-penalty)
    expect(d.get(p.verifier.account.address)).toBe(reward)
    expect(d.get(p.requester.account.address)).toBe(0n)
    expectJurors(d, j.deltas)
    expect(d.get(p.treasury.account.address)).toBe(
      penalty - reward - juryShare + j.toTreasury + c.concessionFee,
    )
    expect([...d.values()].reduce((a, b) => a + b, 0n)).toBe(0n)
    expect(await courtBalance(p)).toBe(0n)
    expect(await lockedOf(p, p.other.account.address)).toBe(0n)
    expect(await lockedOf(p, p.verifier.account.address)).toBe(0n)
  }, 120_000)

  it('sealed or revealed-undrawn concessions cost the fee only; the window and settlement are unchanged', async () => {
    const { courtParams: c } = p
    const market = p.deployment.params
    const before = await snapshot(p, everyone())
    const jobId = await committedJob(p, trueData)
    // a griefer reveals and concedes before the draw block; a verifier concedes its sealed challenge
    const grief = await commitLeafChallenge(p, p.extra, jobId, 2, trueData[6])
    await reveal(p, p.extra, grief)
    await concedeChallenge(p.extra, { disputeCourt: p.court, disputeId: grief.disputeId })
    const sealed = await commitLeafChallenge(p, p.verifier, jobId, 4)
    await concedeChallenge(p.verifier, { disputeCourt: p.court, disputeId: sealed.disputeId })
    // a late concession would undercut the expiry, which keeps the whole bond
    const late = await commitLeafChallenge(p, p.other, jobId, 5)
    await advance(p, c.revealPeriod + 1)
    await expectRevert(
      concedeChallenge(p.other, { disputeCourt: p.court, disputeId: late.disputeId }),
      'RevealPeriodOver',
    )
    await expireChallenge(p.admin, { disputeCourt: p.court, disputeId: late.disputeId })
    const job = await getJob(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId })
    expect(job.openDisputes).toBe(0)
    // the window is neither closed nor extended by a concession
    await expectRevert(
      finalize(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId }),
      'ChallengeWindowOpen',
    )
    await advance(p, market.challengeWindow)
    await finalize(p.admin, { jobMarket: p.deployment.addresses.jobMarket, jobId })

    const d = deltas(before, await snapshot(p, everyone()))
    const fee = (PRICE * BigInt(market.protocolFeeBps)) / 10_000n
    expect(d.get(p.extra.account.address)).toBe(-c.concessionFee)
    expect(d.get(p.verifier.account.address)).toBe(-c.concessionFee)
    expect(d.get(p.other.account.address)).toBe(-c.challengeBond)
    // the accused provider is paid as if unchallenged: nothing of the fees reaches it
    expect(d.get(p.provider.account.address)).toBe(PRICE - fee)
    expect(d.get(p.treasury.account.address)).toBe(fee + 2n * c.concessionFee + c.challengeBond)
    expect(await courtBalance(p)).toBe(0n)
    for (const w of [p.extra, p.verifier, p.other]) expect(await lockedOf(p, w.account.address)).toBe(0n)
  }, 120_000)
})
