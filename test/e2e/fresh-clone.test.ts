/**
 * What a new user does first, on a fresh clone of the committed tree: `npm ci`, `npm run
 * build`, `npx ocn --version`. It proves the bin is linked at install time (before any build
 * output exists) and that no npm command in the checkout warns about the repository's own
 * configuration (the onnxruntime-node CUDA download is denied through allowScripts, not an
 * npm config key that npm no longer knows).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const repoRoot = join(import.meta.dirname, '..', '..')
const workdir = mkdtempSync(join(tmpdir(), 'ocn-fresh-clone-'))
const clone = join(workdir, 'ocn')

afterAll(() => rmSync(workdir, { recursive: true, force: true }))

/** Runs a command in the clone: its exit status and its stdout and stderr together. */
function spawn(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, {
    cwd: clone,
    encoding: 'utf8',
    env: {
      ...process.env,
      TURBO_TELEMETRY_DISABLED: '1',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
    },
    timeout: 600_000,
  })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** As spawn, failing the test on a non-zero exit. */
function run(command: string, args: string[]): string {
  const { status, output } = spawn(command, args)
  if (status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${status}:\n${output.slice(-4000)}`)
  return output
}

describe('a fresh clone', () => {
  it('runs npx ocn right after npm ci and npm run build, with no npm config warning', () => {
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', repoRoot, clone])
    const install = run('npm', ['ci', '--prefer-offline'])
    // npm links the bin at install time, so it must point at a committed file
    const unbuilt = spawn('npx', ['ocn', '--version'])
    expect(unbuilt.status).toBe(1)
    expect(unbuilt.output).toContain('ocn is not built yet: run `npm run build`')
    const build = run('npm', ['run', 'build'])
    const version = run('npx', ['ocn', '--version'])
    expect(version.trim().split('\n').at(-1)).toMatch(/^ocn \d+\.\d+\.\d+/)
    for (const output of [install, unbuilt.output, build, version])
      expect(output).not.toMatch(/Unknown (project|user|env) config/)
  }, 900_000)
})
