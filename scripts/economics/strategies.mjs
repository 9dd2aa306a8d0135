// The strategies the bench measures. Each names the accounts whose wealth is its profit and how
// its detection rate is counted (the share of its deviations the protocol caught or neutralised).
import { LEAF_COUNT } from './job.mjs'
import { JUROR_COUNT } from './world.mjs'

const convictionRate = (st, jobs) => st.convicted / jobs

const fake = (name, forge) => ({
  name,
  forge,
  cheating: true,
  accounts: (w) => [w.cheater],
  detection: convictionRate,
})

/**
 * The first s of the pool's equal-stake jurors serve a cheater that forges one leaf: they acquit
 * wherever they hold a majority of the seats, vote the truth elsewhere, and the cheater appeals
 * every guilty ruling.
 */
const colluding = (s, note = '') => ({
  name: `colluding jurors s=${s} (of ${JUROR_COUNT}) for a cheater faking 1 leaf${note}`,
  forge: 1,
  cheating: true,
  providerAppeals: true,
  jurorKind: (i) => (i < s ? 'collude' : 'vote'),
  accounts: (w) => [w.cheater, ...w.jurors.slice(0, s)],
  detection: convictionRate,
})

/** Penalized seats of the first juror over its seats. */
const seatRate = (st, _jobs, w) => {
  const juror = w.jurors[0].account.address
  const seats = st.seats.get(juror) ?? 0
  return seats === 0 ? 0 : (st.penalized.get(juror) ?? 0) / seats
}

export function strategies() {
  const pct = (p) => Math.ceil((p / 100) * LEAF_COUNT)
  return [
    {
      name: 'honest provider',
      cheating: false,
      accounts: (x) => [x.provider],
      detection: convictionRate,
    },
    fake('fake 1 leaf', 1),
    fake('fake 5% of leaves', pct(5)),
    fake('fake 25% of leaves', pct(25)),
    fake('fake 100% of leaves', LEAF_COUNT),
    {
      ...fake('fake 1 leaf + sock puppet challenges an honest leaf', 1),
      selfChallenge: 'honest-leaf',
      accounts: (x) => [x.cheater, x.puppet],
    },
    {
      ...fake('fake 1 leaf + sock puppet reports the fake (claims the reward)', 1),
      selfChallenge: 'forged-leaf',
      accounts: (x) => [x.cheater, x.puppet],
    },
    {
      // the puppet commits a true challenge of the forgery first, to take the reward if the
      // verifiers catch it, and concedes to leave no trace otherwise: the fee goes to the treasury
      ...fake('fake 1 leaf + sock puppet challenges the fake and concedes before the draw', 1),
      selfChallenge: 'concede',
      accounts: (x) => [x.cheater, x.puppet],
    },
    {
      // delays an honest provider's payment by up to the reveal period for the concession fee
      name: 'griefing verifier (challenges honest jobs, concedes before the draw)',
      cheating: true,
      concedeGrief: true,
      accounts: (x) => [x.grieferPuppet],
      detection: (st) => (st.griefAttempts === 0 ? 0 : st.griefCaught / st.griefAttempts),
    },
    {
      name: 'copycat verifier (front-runs sealed challenges, copies revealed ones)',
      forge: pct(5),
      cheating: true,
      copycat: true,
      accounts: (x) => [x.copycat],
      detection: (st) => (st.copies === 0 ? 0 : (st.copies - st.copiesRewarded) / st.copies),
    },
    {
      name: 'lazy juror (commits, never reveals)',
      forge: pct(5),
      cheating: true,
      jurorKind: (i) => (i === 0 ? 'lazy' : 'vote'),
      accounts: (x) => [x.jurors[0]],
      detection: seatRate,
    },
    colluding(1),
    colluding(3),
    colluding(5),
    {
      name: 'griefing requester (false challenges, last-second awards)',
      cheating: true,
      griefer: true,
      accounts: (x) => [x.griefer, x.grieferPuppet],
      detection: (st) => (st.griefAttempts === 0 ? 0 : st.griefCaught / st.griefAttempts),
    },
  ]
}

/**
 * Strategies outside the security assumption, measured and reported apart (`outsideAssumption`),
 * not counted in `cheatingProfitable`: a group holding a majority of all juror stake can rule
 * anything in a stake-weighted court (the assumption is an honest stake majority; docs/lifecycle.md).
 */
export function outsideAssumption() {
  const majority = Math.floor(JUROR_COUNT / 2) + 1
  return [colluding(majority, ': a majority of the juror stake')]
}
