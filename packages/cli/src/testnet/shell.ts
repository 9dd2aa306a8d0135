/**
 * The `ip` and `tc` commands the testnet builds its network with: run with a timeout and a
 * bounded output, failures as TestnetError naming the command.
 */
import { execFile } from 'node:child_process'
import { TestnetError } from './errors.js'

const TIMEOUT_MS = 10_000
const MAX_OUTPUT_BYTES = 1 << 20

/** Runs `file args...`; resolves with its stdout, rejects with what it printed on stderr. */
export function sh(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout)
      else
        reject(
          new TestnetError('TESTNET_NETWORK_FAILED', `\`${file} ${args.join(' ')}\` failed`, {
            cause: error,
            details: stderr.trim() || error.message,
          }),
        )
    })
  })
}

/** Like sh, for teardown: a failure (the thing is already gone) is not an error. */
export async function shQuiet(file: string, args: readonly string[]): Promise<void> {
  await sh(file, args).catch(() => undefined)
}
