/**
 * The testnet as a user runs it: `ocn testnet --nodes 6 --once --json` as a child process
 * (six `ocn start` daemons, each in its own network namespace behind a delaying relay and a
 * tbf-shaped veth link, anvil on the bridge), one job across it, then nothing it made may be
 * left: no namespace, no link, no process. And a harness killed with SIGKILL: its reaper
 * removes its namespaces, links and relays. Needs root; skipped, saying why, where the
 * machine forbids network namespaces.
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testnetNames } from '../../src/testnet/names.js'

const bin = fileURLToPath(new URL('../../dist/bin/ocn.js', import.meta.url))
const testnetModule = fileURLToPath(new URL('../../dist/testnet/index.js', import.meta.url))

/** Why this machine cannot run the testnet, or undefined when it can. */
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the testnet needs root (network namespaces); CI runs as root'
  const probe = `ocntn-${process.pid}-canary`
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' })
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' })
    return undefined
  } catch (error) {
    return `this machine forbids network namespaces: ${(error as Error).message.split('\n')[0]}`
  }
}

const why = unavailable()
if (why !== undefined) console.warn(`testnet tests skipped: ${why}`)

/** What of an owner's testnet is still there: namespaces, links, and processes naming `marks`. */
function leftovers(owner: number, marks: readonly string[]): string[] {
  const names = testnetNames(owner)
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((ns) => ns.startsWith(`ocntn-${owner}-`))
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '')
    .filter((name) => name === names.bridge || name.startsWith(names.hostVeth(0).slice(0, -1)))
  const processes: string[] = []
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let cmdline: string
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
    } catch {
      continue
    }
    if (marks.some((mark) => cmdline.includes(mark))) processes.push(`${pid}: ${cmdline.slice(0, 120)}`)
  }
  return [...namespaces, ...links, ...processes]
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return true
}

describe.skipIf(why !== undefined)('ocn testnet', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocn-testnet-test-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('runs a job across six namespaces and leaves nothing behind', async () => {
    const runDir = join(dir, 'run')
    const { code, stdout, pid } = await new Promise<{ code: number | null; stdout: string; pid: number }>(
      (resolve) => {
        const child = execFile(
          process.execPath,
          [bin, 'testnet', '--nodes', '6', '--once', '--json', '--dir', runDir],
          { timeout: 240_000, maxBuffer: 16 * 2 ** 20 },
          (error, out) =>
            resolve({ code: error === null ? 0 : (child.exitCode ?? 1), stdout: out, pid: child.pid! }),
        )
      },
    )
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      ok: boolean
      delay: string
      namespaces: string[]
      summary: {
        nodes: { name: string; api: string }[]
        jobs: { status: string; providerName: string | null }[]
        checks: Record<string, boolean>
      }
    }
    expect(code, stdout.slice(-2000)).toBe(0)
    expect(result.ok).toBe(true)
    expect(result.namespaces).toHaveLength(6)
    expect(result.namespaces.every((ns) => ns.startsWith(`ocntn-${pid}-`))).toBe(true)
    // every node's API (and libp2p) is on its namespace's address, never loopback
    const subnet = testnetNames(pid).subnet
    expect(result.summary.nodes.every((n) => n.api.startsWith(`http://${subnet}.`))).toBe(true)
    expect(result.summary.jobs).toHaveLength(1)
    expect(result.summary.jobs[0]!.status).toBe('finalized')
    expect(result.summary.checks.honestJobsSettled).toBe(true)
    expect(result.summary.checks.tokensConserved).toBe(true)
    expect(leftovers(pid, [runDir, testnetNames(pid).hostAddress])).toEqual([])
  }, 300_000)

  it('a harness killed with SIGKILL leaves nothing behind: its reaper removes it', async () => {
    const runDir = join(dir, 'crash')
    const script = [
      `import { createTestnetNetwork } from ${JSON.stringify(testnetModule)}`,
      `const n = await createTestnetNetwork({ count: 2, link: { delayMs: [5, 5], rateMbit: 10 }, dir: ${JSON.stringify(runDir)} })`,
      'console.log(JSON.stringify(n.namespaces))',
      'setInterval(() => {}, 1000)',
    ].join('\n')
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const namespaces = await new Promise<string[]>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString('utf8')) as string[]))
      child.once('exit', (code) => reject(new Error(`the harness exited (${code}) before it was up`)))
    })
    expect(namespaces).toHaveLength(2)
    expect(leftovers(child.pid!, [runDir]).length).toBeGreaterThan(0)
    child.kill('SIGKILL')
    const clean = await until(() => leftovers(child.pid!, [runDir]).length === 0, 15_000)
    expect(clean, leftovers(child.pid!, [runDir]).join('\n')).toBe(true)
  }, 60_000)
})
