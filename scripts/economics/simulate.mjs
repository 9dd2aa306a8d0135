// Runs one strategy over many jobs: each job is awarded, committed, sampled by the honest
// verifiers, disputed, judged, executed and settled on chain; the strategy's adversaries act at
// their moment. Off-chain work is modelled: which leaves are forged is known here, and jurors
// "re-execute" a leaf by comparing it with the true output.
import {
  award,
  CourtRuling,
  concedeChallenge,
  disputeCourtAbi,
  expire,
  finalize,
  getJob,
  jobMarketAbi,
  sweepTreasury,
} from '@ocn/contracts-client'
import { keccak256, parseEventLogs, toHex } from 'viem'
import { challengeFrontRun, challengeLeaf, judge, reveal, revealCopy, settleDisputes } from './dispute.mjs'
import {
  awardJob,
  commitJob,
  ETA_SECONDS,
  findForged,
  forgedSet,
  isForged,
  offerAndBid,
  PRICE,
  refusal,
  trueLeaf,
} from './job.mjs'
import { advance, GAS, now, stuckWei, wealthOf } from './world.mjs'

const WRONG_CLAIM = keccak256(toHex('a claim that is not the true output'))
const TERMINAL = new Set(['finalized', 'providerSlashed', 'expired'])

function newStats() {
  return {
    jobs: [],
    convicted: 0,
    honestSlashed: 0,
    delivered: 0,
    seats: new Map(),
    penalized: new Map(),
    appeals: 0,
    copies: 0,
    copiesRewarded: 0,
    frontRuns: 0,
    copyRevealsRefused: 0,
    griefAttempts: 0,
    griefCaught: 0,
    refusals: new Map(),
  }
}

/** The job's context for the dispute steps: who is who, how each juror votes, who appeals. */
function jobContext(w, s, stats, job) {
  const jurorIndex = new Map(w.jurors.map((j, i) => [j.account.address, i]))
  return {
    stats,
    walletOf: (address) => w.jurors[jurorIndex.get(address)],
    jurorKind: (address) => s.jurorKind?.(jurorIndex.get(address)) ?? 'vote',
    appellant: (d, ruling, guilty) => {
      if (ruling === CourtRuling.guilty) return s.providerAppeals ? job.provider : undefined
      return d.honest && guilty ? d.challenger : undefined
    },
  }
}

/** A leaf the provider computed honestly, for a false challenge. */
const honestLeaf = (job) => job.leaves.findIndex((_, i) => !isForged(job, i))

/** The challenges committed right after the result: the strategy's first movers, then the verifiers. */
async function openChallenges(w, s, stats, job, verifierCount) {
  const disputes = []
  if (s.selfChallenge === 'honest-leaf') {
    disputes.push(await challengeLeaf(w, job, w.puppet, honestLeaf(job), WRONG_CLAIM))
  }
  if (s.selfChallenge === 'forged-leaf') {
    const leaf = [...job.forged][0]
    disputes.push(await challengeLeaf(w, job, w.puppet, leaf, trueLeaf(job.jobId, leaf)))
  }
  if (s.selfChallenge === 'concede') {
    const leaf = [...job.forged][0]
    disputes.push({
      ...(await challengeLeaf(w, job, w.puppet, leaf, trueLeaf(job.jobId, leaf))),
      concede: true,
    })
  }
  if (s.concedeGrief) {
    const sealed = await challengeLeaf(w, job, w.grieferPuppet, honestLeaf(job), WRONG_CLAIM)
    disputes.push({ ...sealed, concede: true, grief: true })
  }
  if (s.griefer) {
    disputes.push({
      ...(await challengeLeaf(w, job, w.grieferPuppet, honestLeaf(job), WRONG_CLAIM)),
      grief: true,
    })
  }
  for (const verifier of w.verifiers.slice(0, verifierCount)) {
    const [leaf] = await findForged(w, verifier, job)
    if (leaf === undefined) continue
    const claim = trueLeaf(job.jobId, leaf)
    if (!s.copycat) {
      disputes.push({ ...(await challengeLeaf(w, job, verifier, leaf, claim)), honest: true })
      continue
    }
    const { honest, stolen, frontRan } = await challengeFrontRun(w, job, verifier, leaf, claim, w.copycat)
    disputes.push({ ...honest, honest: true }, { ...stolen, stolen: true })
    stats.copies += 1
    if (frontRan) stats.frontRuns += 1
  }
  return disputes
}

/**
 * Reveals what can be revealed, and concedes the challenges meant to be conceded (sealed, the
 * cheapest moment); the copycat tries its stolen commitments, then copies the revealed leaves.
 */
async function revealChallenges(w, s, stats, job, disputes) {
  await w.test.mine({ blocks: 1 })
  for (const d of disputes) if (!d.stolen && !d.concede) await reveal(w, d)
  for (const d of disputes.filter((x) => x.concede)) {
    await concedeChallenge(d.challenger, { disputeCourt: w.court, disputeId: d.disputeId, gas: GAS })
    d.conceded = true
  }
  if (!s.copycat) return disputes
  const copies = []
  for (const d of disputes) {
    if (d.stolen) {
      if ((await revealCopy(w, d)) !== undefined) stats.copyRevealsRefused += 1
      continue
    }
    copies.push({ ...(await challengeLeaf(w, job, w.copycat, d.leaf, d.claim)), copy: true })
    stats.copies += 1
  }
  await w.test.mine({ blocks: 1 })
  for (const d of copies) await reveal(w, d)
  return [...disputes, ...copies]
}

/** Reads what the execution receipts say: convictions, who got the reward, juror penalties. */
function readOutcome(w, stats, logs) {
  for (const ev of parseEventLogs({ abi: jobMarketAbi, logs })) {
    if (ev.eventName !== 'ProviderConvicted') continue
    if (ev.args.challenger === w.copycat.account.address) stats.copiesRewarded += 1
  }
  for (const ev of parseEventLogs({ abi: disputeCourtAbi, logs })) {
    if (ev.eventName !== 'JurorPenalized') continue
    stats.penalized.set(ev.args.juror, (stats.penalized.get(ev.args.juror) ?? 0) + 1)
  }
}

/** After the window: pays an unconvicted job; counts convictions and slashes of honest providers. */
async function closeJob(w, stats, job) {
  const { jobMarket } = w.addresses
  let state = await getJob(w.reader, { jobMarket, jobId: job.jobId })
  if (state.status === 'committed') {
    const wait = state.challengeEnds - Number(await now(w))
    await advance(w, Math.max(0, wait))
    await finalize(w.admin, { jobMarket, jobId: job.jobId })
    state = await getJob(w.reader, { jobMarket, jobId: job.jobId })
  }
  if (state.status === 'providerSlashed') stats.convicted += 1
  if (state.status === 'finalized' && job.requester.account.address === w.griefer.account.address) {
    stats.delivered += 1
  }
  if (job.provider === w.provider && state.status !== 'finalized') stats.honestSlashed += 1
}

/**
 * The griefing requester holds a bid the honest provider signed and tries to award it ten
 * seconds before the deadline, after the bidding has closed, so the provider cannot commit in
 * time. Refused under the award rules; if the award goes through, the provider works its eta,
 * misses the deadline and the job expires.
 */
async function lastSecondAward(w, stats) {
  const { jobMarket } = w.addresses
  const { offer, bid, signature } = await offerAndBid(w, w.griefer, w.provider, (t) => ({
    biddingEnds: t + 60n,
    deadline: t + 300n,
  }))
  await advance(w, 290)
  stats.griefAttempts += 1
  const refused = await refusal(() => award(w.griefer, { jobMarket, offer, bid, signature }))
  if (refused !== undefined) {
    stats.griefCaught += 1
    stats.refusals.set(refused, (stats.refusals.get(refused) ?? 0) + 1)
    return
  }
  const job = { jobId: bid.jobId, requester: w.griefer, provider: w.provider }
  stats.jobs.push(job)
  await advance(w, ETA_SECONDS)
  const late = await refusal(() => commitJob(w, job, new Set()))
  if (late === undefined) return closeJob(w, stats, job)
  await advance(w, Number(offer.deadline) - Number(await now(w)) + 1)
  await expire(w.admin, { jobMarket, jobId: job.jobId })
  await closeJob(w, stats, job)
}

async function runJob(w, s, stats, verifierCount) {
  if (s.griefer) await lastSecondAward(w, stats)
  const requester = s.griefer ? w.griefer : w.requester
  const job = await awardJob(w, requester, s.forge === undefined ? w.provider : w.cheater)
  stats.jobs.push(job)
  await commitJob(w, job, forgedSet(job.jobId, s.forge ?? 0))
  const ctx = jobContext(w, s, stats, job)
  const opened = await openChallenges(w, s, stats, job, verifierCount)
  const disputes = opened.length === 0 ? [] : await revealChallenges(w, s, stats, job, opened)
  for (const d of disputes) if (d.revealed) await judge(w, ctx, job, d)
  const open = disputes.filter((d) => !d.conceded)
  if (open.length > 0) readOutcome(w, stats, await settleDisputes(w, open))
  for (const d of disputes) {
    if (d.grief) {
      stats.griefAttempts += 1
      // a conceded grief cost its fee; a revealed one was ruled false
      if (d.conceded || d.finalRuling === CourtRuling.notGuilty) stats.griefCaught += 1
    }
  }
  await closeJob(w, stats, job)
}

/** What is still owed after the run: escrow of unsettled jobs (none once every timeout has passed). */
async function openEscrow(w, stats) {
  const states = await Promise.all(
    stats.jobs.map((j) => getJob(w.reader, { jobMarket: w.addresses.jobMarket, jobId: j.jobId })),
  )
  return states.filter((st) => !TERMINAL.has(st.status)).reduce((a, st) => a + st.price, 0n)
}

/**
 * Runs `jobs` jobs of strategy `s` from the world's snapshot and reverts afterwards. Profit is
 * the change of the strategy's accounts' wealth (tokens plus stake), to the wei.
 */
export async function runStrategy(w, s, jobs, verifierCount, log) {
  const snapshot = await w.test.snapshot()
  try {
    const accounts = s.accounts(w)
    const verifiers = w.verifiers.slice(0, verifierCount)
    const jurors = w.jurors.filter((_, i) => (s.jurorKind?.(i) ?? 'vote') === 'vote')
    const before = await wealthOf(w, accounts)
    const others = [await wealthOf(w, verifiers), await wealthOf(w, jurors)]
    const stats = newStats()
    const started = Date.now()
    for (let i = 0; i < jobs; i++) {
      await runJob(w, s, stats, verifierCount)
      if ((i + 1) % 25 === 0)
        log(`  ${s.name}: ${i + 1}/${jobs} jobs (${Math.round((Date.now() - started) / 1000)} s)`)
    }
    await sweepTreasury(w.admin, { jobMarket: w.addresses.jobMarket })
    const after = await wealthOf(w, accounts)
    // what the honest side earned: verifiers (rewards less bonds) and the jurors who voted the truth
    const honestSide = {
      verifiersWei: (await wealthOf(w, verifiers)) - others[0],
      jurorsWei: (await wealthOf(w, jurors)) - others[1],
    }
    // a requester buys its results: what it paid for delivered ones is not a griefing loss
    const profitWei = after - before + (s.griefer ? PRICE * BigInt(stats.delivered) : 0n)
    const { stuck, conserved } = await stuckWei(w, await openEscrow(w, stats), 0n)
    return { profitWei, stats, stuck, conserved, jobs, honestSide }
  } finally {
    await w.test.revert({ id: snapshot })
  }
}
