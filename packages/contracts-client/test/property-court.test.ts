// Random sequences of the dispute game with adversarial actors, against the real contracts on
// one anvil (rewound with evm_snapshot/evm_revert between sequences): a provider that forges
// leaves and challenges its own honest leaves through a sock puppet, a copycat that copies the
// honest verifier's sealed and revealed challenges, a lazy juror, two colluding jurors, and a
// griefing requester (false challenges through its puppet, last-second awards), and challengers
// that concede before the jury is drawn (each loses exactly the fee). After every step
// the money is conserved to the wei and the honest provider's wealth has not decreased; after
// every sequence all timeouts are run out and nothing is left in the contracts.
// OCN_PROPERTY_COURT_RUNS raises the run count.
import fc from 'fast-check'
import { parseEventLogs } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ContractRevertError,
  CourtPhase,
  disputeCourtAbi,
  getCourtDispute,
  getJob,
  getTokenBalance,
  jobMarketAbi,
  type WriteResult,
} from '../src/index.js'
import {
  advance,
  appealStep,
  awardRulesInForce,
  awardStep,
  type Challenger,
  challengeStep,
  closeDisputeStep,
  closeJobStep,
  commitStep,
  concedeStep,
  juryStep,
  type RunState,
  revealStep,
  sweepStep,
  unbondStep,
  withdrawStep,
} from './property-court-steps.js'
import {
  checkConservation,
  createWorld,
  type DisputeModel,
  e,
  type World,
  wealth,
} from './property-court-world.js'

const RUNS = Number(process.env.OCN_PROPERTY_COURT_RUNS ?? 40)
let w: World

beforeAll(async () => {
  w = await createWorld()
}, 120_000)
afterAll(async () => {
  await w?.chain.stop()
})

type Action =
  | {
      kind: 'award'
      griefer: boolean
      cheater: boolean
      price: bigint
      collateral: bigint
      lastSecond: boolean
    }
  | { kind: 'commit'; job: number; forged: number }
  | { kind: 'challenge'; job: number; who: Challenger; pick: number }
  | { kind: 'reveal' | 'jury' | 'appeal' | 'concede'; dispute: number }
  | { kind: 'close'; dispute: number; wait: boolean }
  | { kind: 'closeJob'; job: number; wait: boolean }
  | { kind: 'advance'; seconds: number }
  | { kind: 'unbond'; who: number; amount: bigint }
  | { kind: 'withdraw'; who: number }
  | { kind: 'sweep' }
  // the next natural step of the newest open dispute or job, so sequences reach deep states
  | { kind: 'progress'; choice: number }

const index = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 4 }) },
)
const awardArb = fc.record({
  kind: fc.constant('award' as const),
  griefer: fc.boolean(),
  // the cheater's jobs are where the adversaries meet: twice as many as the honest provider's
  cheater: fc.constantFrom(true, true, false),
  price: fc.bigInt({ min: 0n, max: e('60') }),
  collateral: fc.bigInt({ min: 0n, max: e('150') }),
  lastSecond: awardRulesInForce ? fc.boolean() : fc.constant(false),
})
const challengers: Challenger[] = ['verifier', 'puppet', 'grieferPuppet', 'copycat']
// progress lets the verifier move first more often, so the copycat has something to copy
const progressChallengers: Challenger[] = [
  'verifier',
  'copycat',
  'verifier',
  'puppet',
  'verifier',
  'grieferPuppet',
]
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 2, arbitrary: awardArb },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      job: index,
      forged: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('challenge' as const),
      job: index,
      who: fc.constantFrom(...challengers),
      pick: fc.nat(7),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('reveal' as const, 'jury' as const, 'appeal' as const, 'concede' as const),
      dispute: index,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('close' as const), dispute: index, wait: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('closeJob' as const), job: index, wait: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      seconds: fc.integer({ min: 1, max: 400 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('unbond' as const),
      who: fc.nat(5),
      amount: fc.bigInt({ min: 0n, max: e('300') }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), who: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('progress' as const), choice: fc.nat(59) }) },
)

const newest = <T>(xs: T[], i: number): T | undefined => xs[xs.length - 1 - (i % Math.max(1, xs.length))]
const stakers = () => [w.verifier, w.puppet, w.grieferPuppet, w.copycat, w.cheater, w.provider]

/** The next step of a dispute by its phase: reveal, jury, appeal or close. */
async function progressDispute(d: DisputeModel, choice: number): Promise<WriteResult | undefined> {
  const { phase, rounds, maxRounds, isFinal, revealEnds, appealEnds } = await getCourtDispute(w.reader, {
    disputeCourt: w.court,
    disputeId: d.id,
  })
  const { timestamp } = await w.reader.getBlock({ blockTag: 'latest' })
  // a challenge past its reveal deadline can only expire
  if (phase === CourtPhase.committed && timestamp >= BigInt(revealEnds)) return closeDisputeStep(w, d, true)
  if (phase === CourtPhase.committed && choice % 7 === 1) return concedeStep(w, d)
  if (phase === CourtPhase.committed)
    return d.copied || choice % 7 === 0 ? closeDisputeStep(w, d, true) : revealStep(w, d)
  // conceding right after the reveal, before the draw block is mined
  if (phase === CourtPhase.awaitingDraw && choice % 11 === 5) return concedeStep(w, d)
  if (phase === CourtPhase.awaitingDraw) return juryStep(w, d)
  const appealable = rounds < maxRounds && !isFinal && timestamp < BigInt(appealEnds)
  if (phase === CourtPhase.ruled && choice % 3 === 0 && appealable) return appealStep(w, d)
  return closeDisputeStep(w, d, true)
}

async function progress(s: RunState, choice: number): Promise<WriteResult | undefined> {
  for (const d of [...s.disputes].reverse()) {
    const { phase } = await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.id })
    if (phase !== CourtPhase.closed) return progressDispute(d, choice)
  }
  const job = s.jobs.at(-1)
  if (job === undefined || choice % 10 === 0) {
    return awardStep(w, s, {
      griefer: choice % 2 === 0,
      cheater: choice % 3 !== 0,
      price: e('40'),
      collateral: e('80'),
      lastSecond: false,
    })
  }
  const { status } = await getJob(w.reader, { jobMarket: w.deployment.addresses.jobMarket, jobId: job.jobId })
  if (status === 'awarded') return commitStep(w, job, choice % 4)
  if (status === 'committed' && choice % 5 !== 4)
    return challengeStep(w, s, job, progressChallengers[choice % 6]!, choice)
  return closeJobStep(w, job, true)
}

async function step(s: RunState, a: Action): Promise<WriteResult | undefined> {
  const job = 'job' in a ? newest(s.jobs, a.job) : undefined
  const dispute = 'dispute' in a ? newest(s.disputes, a.dispute) : undefined
  switch (a.kind) {
    case 'award':
      return awardStep(w, s, a)
    case 'commit':
      return job?.provider === w.cheater ? commitStep(w, job, a.forged) : undefined
    case 'challenge':
      return job && challengeStep(w, s, job, a.who, a.pick)
    case 'reveal':
      return dispute && revealStep(w, dispute)
    case 'jury':
      return dispute && juryStep(w, dispute)
    case 'appeal':
      return dispute && appealStep(w, dispute)
    case 'concede':
      return dispute && concedeStep(w, dispute)
    case 'close':
      return dispute && closeDisputeStep(w, dispute, a.wait)
    case 'closeJob':
      return job && closeJobStep(w, job, a.wait)
    case 'advance':
      await advance(w, a.seconds)
      return undefined
    case 'unbond':
      return unbondStep(w, stakers()[a.who]!, a.amount)
    case 'withdraw':
      return withdrawStep(w, stakers()[a.who]!)
    case 'sweep':
      return sweepStep(w)
    case 'progress':
      return progress(s, a.choice)
  }
}

/**
 * Runs out every timeout: each dispute to its end (in commit order; the losing side appeals while
 * it can), then each job; then sweeps.
 */
async function drain(s: RunState, record: (r: WriteResult | undefined) => void): Promise<void> {
  for (let pass = 0; pass < 12; pass++) {
    let open = 0
    for (const d of s.disputes) {
      if (
        (await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.id })).phase ===
        CourtPhase.closed
      )
        continue
      open++
      await refused(async () => record(await progressDispute(d, 3)))
    }
    for (const job of s.jobs) await refused(async () => record(await closeJobStep(w, job, true)))
    if (open === 0) break
  }
  await sweepStep(w)
}

/** Runs a step that the state may refuse; returns whether it was refused with a decoded custom error. */
async function refused(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run()
    return false
  } catch (err) {
    if (!(err instanceof ContractRevertError)) throw err
    return true
  }
}

/**
 * One scripted sequence, run before the random ones, so every run of the test meets each adversary
 * at least once and ends in a conviction: the cheater forges two leaves, the verifier challenges,
 * the copycat copies the sealed commitment (its reveal is refused), the griefer's puppet and the
 * cheater's puppet challenge honest leaves; the drain then draws the juries (lazy juror and
 * colluders included), rules, lets the losers appeal and executes.
 */
const SCRIPTED: [Extract<Action, { kind: 'award' }>, Action[]] = [
  { kind: 'award', griefer: false, cheater: true, price: e('40'), collateral: e('80'), lastSecond: false },
  [
    { kind: 'progress', choice: 2 },
    { kind: 'progress', choice: 2 },
    { kind: 'challenge', job: 0, who: 'copycat', pick: 0 },
    { kind: 'reveal', dispute: 1 },
    { kind: 'reveal', dispute: 0 },
    { kind: 'award', griefer: true, cheater: false, price: e('40'), collateral: e('80'), lastSecond: false },
    { kind: 'challenge', job: 0, who: 'grieferPuppet', pick: 0 },
    { kind: 'reveal', dispute: 0 },
    { kind: 'challenge', job: 1, who: 'puppet', pick: 0 },
    { kind: 'reveal', dispute: 0 },
    // the verifier challenges again and concedes; the cheater's puppet concedes a sealed challenge
    { kind: 'challenge', job: 1, who: 'verifier', pick: 1 },
    { kind: 'concede', dispute: 0 },
    { kind: 'challenge', job: 1, who: 'puppet', pick: 1 },
    { kind: 'concede', dispute: 0 },
  ],
]

/** Events every run of the test must have seen at least once. */
const COVERED = [
  'JobAwarded',
  'ResultCommitted',
  'ChallengeCommitted',
  'ChallengeRevealed',
  'ChallengeExpired',
  'ChallengeConceded',
  'Ruled',
  'Appealed',
  'DisputeExecuted',
  'ProviderConvicted',
  'JobFinalized',
]

function eventNames(result: WriteResult): string[] {
  const logs = result.receipt.logs
  return [
    ...parseEventLogs({ abi: jobMarketAbi, logs }),
    ...parseEventLogs({ abi: disputeCourtAbi, logs }),
  ].map((l) => l.eventName)
}

describe('the dispute game under adversarial actors', () => {
  it(`conserves money and never costs the honest provider, over ${RUNS} sequences`, {
    timeout: 900_000,
  }, async () => {
    let snapshot = await w.test.snapshot()
    const counts = { succeeded: 0, refused: 0 }
    const transitions = new Map<string, number>()
    const provider = w.provider.account.address
    const record = (result: WriteResult | undefined) => {
      if (result === undefined) return
      counts.succeeded++
      for (const name of eventNames(result)) transitions.set(name, (transitions.get(name) ?? 0) + 1)
    }
    await fc.assert(
      fc.asyncProperty(
        awardArb,
        fc.array(actionArb, { minLength: 1, maxLength: 20 }),
        async (first, rest) => {
          await w.test.revert({ id: snapshot })
          snapshot = await w.test.snapshot()
          const s: RunState = { jobs: [], disputes: [], salt: 0n, nonce: 0n }
          let floor = await wealth(w, provider)
          for (const a of [first, ...rest]) {
            let result: WriteResult | undefined
            if (await refused(async () => (result = await step(s, a)))) counts.refused++
            else record(result)
            await checkConservation(w, s.jobs, s.disputes)
            const now = await wealth(w, provider)
            expect(now, `honest provider's wealth after ${a.kind}`).toBeGreaterThanOrEqual(floor)
            floor = now
          }
          await drain(s, record)
          await checkConservation(w, s.jobs, s.disputes)
          expect(await wealth(w, provider)).toBeGreaterThanOrEqual(floor)
          // after every timeout: no dispute open, no job unsettled, nothing left in the contracts
          for (const d of s.disputes) {
            expect((await getCourtDispute(w.reader, { disputeCourt: w.court, disputeId: d.id })).phase).toBe(
              CourtPhase.closed,
            )
          }
          const { token, jobMarket } = w.deployment.addresses
          expect(await getTokenBalance(w.reader, { token, account: jobMarket })).toBe(0n)
          expect(await getTokenBalance(w.reader, { token, account: w.court })).toBe(0n)
        },
      ),
      { numRuns: RUNS, examples: [SCRIPTED] },
    )
    const kinds = [...transitions.entries()].map(([k, n]) => `${k}=${n}`).join(' ')
    console.info(
      `court property: ${counts.succeeded} transactions (${kinds}), ${counts.refused} refused steps`,
    )
    // the generator must reach the adversaries' moves and the game's outcomes, not only refusals
    for (const k of COVERED) expect(transitions.get(k) ?? 0, k).toBeGreaterThan(0)
    expect(counts.refused).toBeGreaterThan(0)
  })
})
