/**
 * Runs the test tiers one after another (`npm run test:<tier>`; see README "Test tiers")
 * and prints each tier's wall time as `tier unit: 93 s`. It stops at the first tier that
 * fails and exits with that tier's status, so `npm test` and CI fail with it.
 *
 *   node scripts/test-tiers.mjs                   # unit, integration, system
 *   node scripts/test-tiers.mjs unit integration  # just these, in this order
 */
import { spawnSync } from 'node:child_process'

const TIERS = ['unit', 'integration', 'system']
const tiers = process.argv.length > 2 ? process.argv.slice(2) : TIERS
const unknown = tiers.filter((tier) => !TIERS.includes(tier))
if (unknown.length > 0) {
  console.error(`unknown test tier: ${unknown.join(', ')} (the tiers: ${TIERS.join(', ')})`)
  process.exit(2)
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const lines = []
for (const tier of tiers) {
  const started = performance.now()
  const run = spawnSync(npm, ['run', `test:${tier}`], { stdio: 'inherit' })
  const seconds = Math.round((performance.now() - started) / 1000)
  const failed = run.status !== 0
  const line = `tier ${tier}: ${seconds} s${failed ? ' (failed)' : ''}`
  lines.push(line)
  console.log(line)
  if (failed) {
    console.log(`test tiers:\n${lines.join('\n')}`)
    if (run.error) console.error(run.error.message)
    process.exit(run.status ?? 1)
  }
}
console.log(`test tiers:\n${lines.join('\n')}`)
