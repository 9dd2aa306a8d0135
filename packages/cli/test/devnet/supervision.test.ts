/**
 * `ocn devnet` never leaves a process behind: not after Ctrl-C (SIGINT), and not when the
 * devnet itself is killed with SIGKILL and cannot clean up (its nodes and anvil notice
 * their stdin closing and stop themselves).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

const bin = fileURLToPath(new URL('../../dist/bin/ocn.js', import.meta.url))
let dir: string | undefined
let devnet: ChildProcess | undefined

/** Starts `ocn devnet --no-workload` and resolves once the network is up, with anvil's port. */
function startUp(netDir: string): Promise<{ child: ChildProcess; rpcPort: string; output: () => string }> {
  const child = spawn(process.execPath, [bin, 'devnet', '--no-workload', '--dir', netDir], {
    env: { PATH: process.env.PATH ?? '', HOME: netDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    // its own process group, like a command in a terminal's foreground
    detached: true,
  })
  devnet = child
  let out = ''
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /RPC http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (match !== null) resolve({ child, rpcPort: match[1]!, output: () => out })
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.once('exit', (code) => reject(new Error(`ocn devnet exited with ${code}: ${out}`)))
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

/** Processes still running that belong to this devnet: its nodes (by data dir) and its anvil (by port). */
function leftovers(netDir: string, rpcPort: string): string[] {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter(
      (line) => line.includes(netDir) || (line.includes('anvil') && line.includes(`--port ${rpcPort} `)),
    )
}

async function eventuallyNone(netDir: string, rpcPort: string): Promise<string[]> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const left = leftovers(netDir, rpcPort)
    if (left.length === 0 || Date.now() > deadline) return left
    await new Promise((r) => setTimeout(r, 250))
  }
}

beforeAll(() => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
})

afterEach(async () => {
  if (devnet !== undefined && devnet.exitCode === null && devnet.signalCode === null) {
    devnet.kill('SIGKILL')
    await exited(devnet)
  }
  devnet = undefined
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('ocn devnet process supervision', () => {
  it('stops every node and anvil on a terminal Ctrl-C (SIGINT to the group) and exits 0', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocn-devnet-sigint-'))
    const netDir = join(dir, 'net')
    const { child, rpcPort, output } = await startUp(netDir)
    expect(leftovers(netDir, rpcPort).length).toBeGreaterThanOrEqual(6)
    // A terminal signals the whole foreground group; the nodes are in groups of their own.
    process.kill(-child.pid!, 'SIGINT')
    expect(await exited(child), output()).toBe(0)
    expect(leftovers(netDir, rpcPort)).toEqual([])
    // Each node was stopped once, cleanly: none was forced out by a second signal.
    for (const node of ['verifier', 'provider-1', 'requester']) {
      const log = await readFile(join(netDir, node, 'node.log'), 'utf8')
      expect(log).toContain('node stopped')
      expect(log).not.toContain('forcing exit')
    }
  })

  it('leaves nothing running when the devnet itself is killed with SIGKILL', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocn-devnet-sigkill-'))
    const netDir = join(dir, 'net')
    const { child, rpcPort } = await startUp(netDir)
    expect(leftovers(netDir, rpcPort).length).toBeGreaterThanOrEqual(6)
    child.kill('SIGKILL')
    await exited(child)
    expect(await eventuallyNone(netDir, rpcPort)).toEqual([])
  })
})
