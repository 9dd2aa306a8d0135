import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createWalletClient, http } from 'viem'
import { getBlockNumber, getChainId } from 'viem/actions'
import { describe, expect, it } from 'vitest'
import { DEV_MNEMONIC, DevChainError, deployProtocol, parseDeployment, startDevChain } from '../src/index.js'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('dev chain and deployment', () => {
  it('starts anvil on a free loopback port with the known accounts and stops it for good', async () => {
    const chain = await startDevChain({ chainId: 31338 })
    try {
      expect(chain.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(chain.accounts[0]!.address).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
      expect(chain.privateKeys).toHaveLength(10)
      const client = createWalletClient({
        account: chain.accounts[0]!,
        chain: chain.chain,
        transport: http(chain.rpcUrl),
      })
      expect(await getChainId(client)).toBe(31338)
    } finally {
      await chain.stop()
    }
    expect(alive(chain.pid!)).toBe(false)
    await chain.stop()
    expect(DEV_MNEMONIC.split(' ')).toHaveLength(12)
  })

  it('takes anvil down with it when the owning process is killed outright', async () => {
    // runs the built package in a child process, which is then SIGKILLed (no exit hook runs)
    const entry = new URL('../dist/index.js', import.meta.url)
    expect(existsSync(entry), 'this test runs the built package: npm run build first').toBe(true)
    const script = `const { startDevChain } = await import(${JSON.stringify(entry.href)}); const c = await startDevChain(); console.log(c.pid); setInterval(() => {}, 1000)`
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const pid = await new Promise<number>((resolve, reject) => {
      owner.stdout.setEncoding('utf8')
      owner.stdout.once('data', (line: string) => resolve(Number.parseInt(line, 10)))
      owner.once('exit', (code) => reject(new Error(`owner exited with ${code}`)))
    })
    expect(alive(pid)).toBe(true)
    owner.kill('SIGKILL')
    const deadline = Date.now() + 10_000
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(alive(pid)).toBe(false)
  })

  it('fails with a DevChainError when the port is taken', async () => {
    const first = await startDevChain()
    try {
      await expect(startDevChain({ port: first.port, startTimeoutMs: 5000 })).rejects.toBeInstanceOf(
        DevChainError,
      )
    } finally {
      await first.stop()
    }
  })

  it('deploys, wires and writes a deployment file that parses back', async () => {
    const chain = await startDevChain()
    const dir = await mkdtemp(join(tmpdir(), 'ocn-deploy-'))
    try {
      const client = createWalletClient({
        account: chain.accounts[0]!,
        chain: chain.chain,
        transport: http(chain.rpcUrl),
      })
      const outFile = join(dir, 'deployment.json')
      const deployment = await deployProtocol(client, { outFile, params: { challengeWindow: 120 } })
      expect(deployment.chainId).toBe(chain.chain.id)
      expect(deployment.deployBlock).toBeLessThanOrEqual(await getBlockNumber(client))
      const parsed = parseDeployment(await readFile(outFile, 'utf8'))
      expect(parsed).toEqual(deployment)
      expect(parsed.params.challengeWindow).toBe(120)
      await expect(
        deployProtocol(client, { params: { challengeWindow: 1000, unbondingDelay: 10n } }),
      ).rejects.toMatchObject({ code: 'DEPLOYMENT' })
      expect(() => parseDeployment('{"chainId": 1}')).toThrow(/addresses/)
      // the pool is deployed and recorded; files from before it still parse (share 0, no pool)
      expect(parsed.addresses.attributionPool).toMatch(/^0x[0-9a-fA-F]{40}$/)
      expect(parsed.params.attributionShareBps).toBe(1_000)
      const older = JSON.parse(await readFile(outFile, 'utf8'))
      delete older.addresses.attributionPool
      delete older.roles.attribution
      delete older.params.attributionShareBps
      const parsedOlder = parseDeployment(JSON.stringify(older))
      expect(parsedOlder.addresses.attributionPool).toBeUndefined()
      expect(parsedOlder.roles.attribution).toBeUndefined()
      expect(parsedOlder.params.attributionShareBps).toBe(0)
      older.addresses.attributionPool = 'nope'
      expect(() => parseDeployment(JSON.stringify(older))).toThrow(
        'addresses.attributionPool is not an address',
      )
      // a share the JobMarket would refuse is refused before anything is sent
      await expect(deployProtocol(client, { params: { attributionShareBps: 5_001 } })).rejects.toMatchObject({
        code: 'DEPLOYMENT',
      })
      await expect(
        deployProtocol(client, { params: { protocolFeeBps: 9_500, attributionShareBps: 1_000 } }),
      ).rejects.toMatchObject({ code: 'DEPLOYMENT' })
    } finally {
      await chain.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
