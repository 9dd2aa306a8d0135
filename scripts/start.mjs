#!/usr/bin/env node
/**
 * `npm start`: runs `ocn devnet` (the whole network on this machine and its workload),
 * forwarding any arguments (`npm start -- --json`). On a terminal the network stays up
 * until Ctrl-C, as `ocn devnet` does; without one (CI, a pipe) it adds `--once` so the run
 * ends after the summary with the devnet's exit code.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../packages/cli/dist/bin/ocn.js', import.meta.url))
if (!existsSync(bin)) {
  console.error('error: @ocn/node is not built; run `npm run build` (npm start builds first)')
  process.exit(2)
}
const args = process.argv.slice(2)
const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true
if (!interactive && !args.includes('--once')) args.push('--once')

const child = spawn(process.execPath, [bin, 'devnet', ...args], { stdio: 'inherit' })
// Ctrl-C on a terminal reaches the devnet directly (same process group): forwarding it too
// would be a second signal, which makes the devnet exit at once instead of cleaning up. Other
// signals sent to this process alone are passed on.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (signal === 'SIGINT' && interactive) return
    if (child.exitCode === null) child.kill(signal)
  })
}
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === null ? 1 : 130)
})
