/**
 * The CLI tests run the built `ocn` as a real child process, the way a user does; this is the
 * one place that knows how (`npm run build` first: the tests' turbo task does it).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The built entry, dist/bin/ocn.js. */
export const ocnBin = fileURLToPath(new URL('../dist/bin/ocn.js', import.meta.url))

export interface OcnOutcome {
  code: number
  stdout: string
  stderr: string
}

export interface RunOcnOptions {
  /** variables beside PATH and HOME */
  env?: Record<string, string>
  /** the process is killed after this long (default 60 s) */
  timeoutMs?: number
}

/**
 * Runs `ocn ...args` in `dir` with a clean environment: only PATH is kept and HOME is `dir`,
 * so nothing of the machine's own ~/.ocn can leak in. Never rejects: a failure is its exit code.
 */
export function runOcnIn(dir: string, args: string[], options: RunOcnOptions = {}): Promise<OcnOutcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [ocnBin, ...args],
      {
        env: { PATH: process.env.PATH ?? '', HOME: dir, ...options.env },
        cwd: dir,
        timeout: options.timeoutMs ?? 60_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}
