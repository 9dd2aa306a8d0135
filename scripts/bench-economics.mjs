#!/usr/bin/env node
// The economics of the dispute game, measured with the real contracts on a fresh embedded anvil
// under the deploy.ts default parameters: for each strategy (honest, forging leaves, sock-puppet
// challenges, conceded challenges, copied challenges, lazy and colluding jurors, a griefing
// requester, a griefing verifier that challenges and concedes) its profit per
// job, in OPEN, from its accounts' actual token and stake balances, and how often it was caught.
// Honest verifiers each draw their own private sample of the node's default size; honest jurors
// vote what re-executing the disputed leaf shows (modelled: the bench knows the forged leaves).
//
// Usage: npm run bench:economics [-- --json] [--jobs N] [--verifiers V] [--chains C] [--only SUBSTRING]
// Strategies run on C anvils at once (default 4; each starts from the same funded state).
// Progress goes to stderr. With --json the last stdout line is one JSON object:
//   { strategies: [{ name, profitPerJob, detectionRate }], honestSlashed, cheatingProfitable, stuckWei }
// (exactly the keys issue 12 names). What the game does not claim to stop (colluders with a
// majority of all juror stake) is measured like the rest, not counted in cheatingProfitable, and
// printed on stderr as one line `outside the security assumption: [{ name, profitPerJob, ... }]`.
// profitPerJob is OPEN per job (the wei total divided by the jobs, then in OPEN); stuckWei is what
// the contracts still hold after every timeout beyond the stakes they owe (must be 0).
import { formatEther } from 'viem'
import { LEAF_COUNT, SAMPLES } from './economics/job.mjs'
import { runStrategy } from './economics/simulate.mjs'
import { outsideAssumption, strategies } from './economics/strategies.mjs'
import { createWorld, VERIFIER_COUNT_MAX } from './economics/world.mjs'

const args = process.argv.slice(2)
const json = args.includes('--json')
const option = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const jobs = Number(option('--jobs', '40'))
const verifierCount = Number(option('--verifiers', '3'))
const only = option('--only', '')
const chains = Number(option('--chains', '4'))
if (!Number.isInteger(jobs) || jobs < 1) throw new Error('--jobs takes a positive integer')
if (!Number.isInteger(verifierCount) || verifierCount < 1 || verifierCount > VERIFIER_COUNT_MAX) {
  throw new Error(`--verifiers takes 1 to ${VERIFIER_COUNT_MAX}`)
}
const log = (line) => console.error(line)

const inside = strategies().filter((x) => x.name.includes(only))
const chosen = [...inside, ...outsideAssumption().filter((x) => x.name.includes(only))]
const worlds = await Promise.all(
  Array.from({ length: Math.max(1, Math.min(chains, chosen.length)) }, () => createWorld(log)),
)
try {
  log(
    `economics: ${jobs} jobs per strategy, ${verifierCount} honest verifiers sampling ${SAMPLES} of ${LEAF_COUNT} leaves each, ${worlds.length} chains`,
  )
  const results = new Array(chosen.length)
  let next = 0
  // each chain takes the next strategy until none is left
  await Promise.all(
    worlds.map(async (w) => {
      while (next < chosen.length) {
        const i = next++
        results[i] = await measure(w, chosen[i])
      }
    }),
  )
  const summary = ({ name, profitPerJob, detectionRate }) => ({ name, profitPerJob, detectionRate })
  const claimed = results.slice(0, inside.length)
  const report = {
    strategies: claimed.map(summary),
    honestSlashed: results.reduce((a, r) => a + r.honestSlashed, 0),
    cheatingProfitable: claimed.some((r) => r.cheating && r.profitPerJob >= 0),
    // a JSON number (it must be 0; any other value still reads as non-zero)
    stuckWei: Number(results.reduce((a, r) => a + r.stuck, 0n)),
  }
  const outside = results.slice(inside.length).map(summary)
  if (outside.length > 0) log(`outside the security assumption: ${JSON.stringify(outside)}`)
  if (json) console.log(JSON.stringify(report))
  else {
    for (const r of results) {
      console.log(
        `${r.name.padEnd(72)} ${String(r.profitPerJob).padStart(14)} OPEN/job  detected ${r.detectionRate.toFixed(3)}`,
      )
    }
  }
} finally {
  await Promise.all(worlds.map((w) => w.chain.stop()))
}

async function measure(w, s) {
  const started = Date.now()
  const r = await runStrategy(w, s, jobs, verifierCount, log)
  if (!r.conserved) throw new Error(`${s.name}: token supply not conserved`)
  const profitPerJob = Number(formatEther(r.profitWei / BigInt(jobs)))
  const detectionRate = s.detection(r.stats, jobs, w)
  log(
    `${s.name}: profit ${formatEther(r.profitWei)} OPEN over ${jobs} jobs (${r.profitWei} wei), ` +
      `detection ${detectionRate.toFixed(3)}, convicted ${r.stats.convicted}, appeals ${r.stats.appeals}, ` +
      `honest slashed ${r.stats.honestSlashed}, stuck ${r.stuck} wei, ` +
      `honest verifiers ${formatEther(r.honestSide.verifiersWei)} OPEN, honest jurors ${formatEther(r.honestSide.jurorsWei)} OPEN` +
      extras(r.stats) +
      ` (${Math.round((Date.now() - started) / 1000)} s)`,
  )
  const { name, cheating } = s
  return { name, cheating, profitPerJob, detectionRate, honestSlashed: r.stats.honestSlashed, stuck: r.stuck }
}

function extras(st) {
  const parts = []
  if (st.copies > 0) {
    parts.push(
      `copies ${st.copies} (front-ran ${st.frontRuns}, copied reveals refused ${st.copyRevealsRefused}, rewarded ${st.copiesRewarded})`,
    )
  }
  if (st.griefAttempts > 0) {
    const refusals = [...st.refusals.entries()].map(([k, n]) => `${k}=${n}`).join(' ')
    parts.push(
      `grief attempts ${st.griefAttempts}, caught ${st.griefCaught}${refusals ? ` (${refusals})` : ''}`,
    )
  }
  return parts.length === 0 ? '' : `, ${parts.join(', ')}`
}
