/**
 * The daemon's chain service against a real anvil: deployment file loading, balances, events
 * delivered once confirmed, and the watcher cursor kept in the StateStore so a restarted
 * service does not deliver the same events again.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  approveModel,
  approveToken,
  type Deployment,
  type DevChain,
  defaultModelReleaseParameters,
  deployProtocol,
  type ProtocolEvent,
  proposeModel,
  revokeModel,
  stake,
  startDevChain,
  transferToken,
  writeDeploymentFile,
} from '@ocn/contracts-client'
import { createTestClient, createWalletClient, http, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChainServiceError, createChainService } from '../../src/chain/index.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { createStateStore } from '../../src/state/index.js'

/** A proxy in front of anvil that counts each JSON-RPC method the service sends. */
async function countingProxy(
  target: string,
): Promise<{ url: string; count(method: string): number; server: Server }> {
  const counts = new Map<string, number>()
  const { hostname, port } = new URL(target)
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const parsed = JSON.parse(body.toString()) as { method: string } | { method: string }[]
      for (const call of Array.isArray(parsed) ? parsed : [parsed])
        counts.set(call.method, (counts.get(call.method) ?? 0) + 1)
      const out = request(
        { hostname, port, method: 'POST', path: '/', headers: { 'content-type': 'application/json' } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json' })
          answer.pipe(res)
        },
      )
      out.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, count: (method) => counts.get(method) ?? 0, server }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('chain service', () => {
  let chain: DevChain
  let dir: string
  let deploymentFile: string
  let deployment: Deployment
  let deployer: Parameters<typeof approveModel>[0]

  beforeAll(async () => {
    chain = await startDevChain()
    dir = await mkdtemp(join(tmpdir(), 'ocn-chain-'))
    deployer = createWalletClient({
      account: privateKeyToAccount(chain.privateKeys[0]!),
      chain: chain.chain,
      transport: http(chain.rpcUrl),
      pollingInterval: 50,
    })
    deployment = await deployProtocol(deployer)
    deploymentFile = join(dir, 'deployment.json')
    await writeDeploymentFile(deploymentFile, deployment)
    await transferToken(deployer, {
      token: deployment.addresses.token,
      to: chain.accounts[1]!.address,
      amount: parseEther('50'),
    })
  }, 120_000)

  afterAll(async () => {
    await chain?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('reads balances, delivers confirmed events once, and resumes from the saved cursor', async () => {
    const state = createStateStore({ path: join(dir, 'state') })
    await state.open()
    const account = privateKeyToAccount(chain.privateKeys[1]!)
    const init = { rpcUrl: chain.rpcUrl, account, deploymentFile, confirmations: 0, pollIntervalMs: 50 }
    const service = createChainService(init, { state, logger: createSilentLogger() })
    const seen: ProtocolEvent[] = []
    service.onEvents((events) => void seen.push(...events))
    await service.start()
    expect(await service.chainId()).toBe(31337)
    // staking as the API's POST /stake does it: approve + stake through the transaction queue
    await expect(service.stake(parseEther('51'))).rejects.toMatchObject({ code: 'CHAIN_INSUFFICIENT_FUNDS' })
    expect(await service.stake(parseEther('25'))).toMatch(/^0x[0-9a-f]{64}$/)
    await expect(service.unstake(parseEther('26'))).rejects.toMatchObject({
      code: 'CHAIN_INSUFFICIENT_FUNDS',
    })
    expect(await service.unstake(parseEther('5'))).toMatch(/^0x[0-9a-f]{64}$/)
    await service.poll()
    const staked = seen.filter((e) => e.eventName === 'Staked')
    expect(staked).toHaveLength(1)
    const balances = await service.balances(account.address)
    expect(balances).toMatchObject({ token: parseEther('25'), staked: parseEther('20'), locked: 0n })
    await service.stop()
    const cursor = await state.getChainCursor()
    expect(cursor?.blockNumber).toBe(await service.blockNumber())

    // a restarted service starts after the cursor: nothing is delivered twice
    const again = createChainService(init, { state, logger: createSilentLogger() })
    const replayed: ProtocolEvent[] = []
    again.onEvents((events) => void replayed.push(...events))
    await again.start()
    await again.poll()
    expect(replayed.filter((e) => e.eventName === 'Staked')).toHaveLength(0)
    await again.stop()
    await state.close()
  })

  it("reads a model's registry status, cached for modelStatusTtlMs unless asked fresh", async () => {
    const state = createStateStore({ path: join(dir, 'state-models') })
    await state.open()
    const account = privateKeyToAccount(chain.privateKeys[3]!)
    const service = createChainService(
      { rpcUrl: chain.rpcUrl, account, deploymentFile, modelStatusTtlMs: 60_000 },
      { state, logger: createSilentLogger() },
    )
    await service.start()
    const modelRegistry = deployment.addresses.modelRegistry!
    const modelHash = `0x${'ab'.repeat(32)}` as const
    expect(await service.modelStatus(modelHash)).toBe('none')
    await proposeModel(deployer, {
      modelRegistry,
      modelHash,
      storagePointer: 'ipfs://m',
      trainingSpecHash: `0x${'01'.repeat(32)}`,
      evaluationReportHash: `0x${'02'.repeat(32)}`,
    })
    // within the cache time the earlier read stands; a fresh read sees the proposal
    expect(await service.modelStatus(modelHash)).toBe('none')
    expect(await service.modelStatus(modelHash, { maxAgeMs: 0 })).toBe('proposed')
    // the release gate's review period passes on anvil's clock before the approval
    const anvil = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
    await anvil.increaseTime({ seconds: defaultModelReleaseParameters.minReviewPeriod })
    await anvil.mine({ blocks: 1 })
    await approveModel(deployer, { modelRegistry, modelHash })
    expect(await service.modelStatus(modelHash, { maxAgeMs: 0 })).toBe('approved')
    await revokeModel(deployer, { modelRegistry, modelHash })
    expect(await service.modelStatus(modelHash, { maxAgeMs: 0 })).toBe('revoked')
    expect(await service.modelStatus(modelHash)).toBe('revoked')
    await service.stop()

    // a deployment without a registry: a typed error, not a call to address zero
    const { modelRegistry: _dropped, ...addresses } = deployment.addresses
    const bare = createChainService(
      { rpcUrl: chain.rpcUrl, account, deployment: { ...deployment, addresses } },
      { state, logger: createSilentLogger() },
    )
    await bare.start()
    const missing = await bare.modelStatus(modelHash).catch((err: unknown) => err)
    expect(missing).toBeInstanceOf(ChainServiceError)
    expect((missing as ChainServiceError).code).toBe('CHAIN_NO_MODEL_REGISTRY')
    await bare.stop()
    await state.close()
  })

  it('names a missing or invalid deployment file and a chain that does not match it', async () => {
    const state = createStateStore({ path: join(dir, 'state-2') })
    await state.open()
    const account = privateKeyToAccount(chain.privateKeys[2]!)
    const start = async (file: string, rpcUrl = chain.rpcUrl) => {
      const service = createChainService(
        { rpcUrl, account, deploymentFile: file },
        { state, logger: createSilentLogger() },
      )
      return service.start().then(
        async () => {
          await service.stop()
          return 'started'
        },
        (err: unknown) => (err instanceof ChainServiceError ? err.code : String(err)),
      )
    }
    expect(await start(join(dir, 'nope.json'))).toBe('CHAIN_DEPLOYMENT_MISSING')
    const bad = join(dir, 'bad.json')
    await writeFile(bad, '{"chainId": 1}')
    expect(await start(bad)).toBe('CHAIN_DEPLOYMENT_INVALID')
    const other = join(dir, 'other-chain.json')
    const json = JSON.parse(await (await import('node:fs/promises')).readFile(deploymentFile, 'utf8'))
    await writeFile(other, JSON.stringify({ ...json, chainId: 1 }))
    expect(await start(other)).toBe('CHAIN_DEPLOYMENT_MISMATCH')
    expect(await start(deploymentFile, 'http://127.0.0.1:1')).toBe('CHAIN_UNREACHABLE')
    await state.close()
  })

  it('backs its polls off while idle, still delivers an event within idlePollIntervalMs, and polls promptly for an open job', async () => {
    const state = createStateStore({ path: join(dir, 'state-idle') })
    await state.open()
    const proxy = await countingProxy(chain.rpcUrl)
    const account = privateKeyToAccount(chain.privateKeys[4]!)
    const timing = { pollIntervalMs: 50, idlePollIntervalMs: 800, activeWindowMs: 300 }
    const service = createChainService(
      { rpcUrl: proxy.url, account, deploymentFile, confirmations: 0, ...timing },
      { state, logger: createSilentLogger() },
    )
    const delivered: number[] = []
    service.onEvents((events) => {
      if (events.some((e) => e.eventName === 'Staked')) delivered.push(Date.now())
    })
    await service.start()
    // past the active window the waits double (50, 100, 200, 400, 800 ms): idle, a 2 s
    // stretch holds a handful of polls where a fixed 50 ms interval would make 40
    await sleep(1_500)
    const idleFrom = proxy.count('eth_blockNumber')
    await sleep(2_000)
    const idlePolls = proxy.count('eth_blockNumber') - idleFrom
    expect(idlePolls).toBeGreaterThanOrEqual(2)
    expect(idlePolls).toBeLessThanOrEqual(5)

    // a backed-off feed still sees a stranger's event within its longest wait
    const { stakeManager, token } = deployment.addresses
    await approveToken(deployer, { token, spender: stakeManager, amount: parseEther('1') })
    await sleep(1_500) // the approval is no protocol event: the feed is backed off again
    await stake(deployer, { stakeManager, amount: parseEther('1') })
    const mined = Date.now()
    for (let i = 0; i < 40 && delivered.length === 0; i++) await sleep(50)
    expect(delivered).toHaveLength(1)
    expect(delivered[0]! - mined).toBeLessThanOrEqual(timing.idlePollIntervalMs + 200)

    // an open job of this node (a bid recorded) wakes the feed and keeps it at pollIntervalMs,
    // past the active window, until the job is closed
    await sleep(2_000)
    await state.createJob({
      id: 'open-bid',
      role: 'provider',
      state: 'offered',
      kind: 'inference',
      verification: 'replay',
      price: 1n,
    })
    await state.transitionJob('open-bid', 'bidding')
    await sleep(500) // past the active window of the write
    const busyFrom = proxy.count('eth_blockNumber')
    await sleep(1_000)
    expect(proxy.count('eth_blockNumber') - busyFrom).toBeGreaterThanOrEqual(10)
    await state.transitionJob('open-bid', 'failed')
    await sleep(1_500)
    const closedFrom = proxy.count('eth_blockNumber')
    await sleep(2_000)
    expect(proxy.count('eth_blockNumber') - closedFrom).toBeLessThanOrEqual(5)

    await service.stop()
    await state.close()
    await new Promise((resolve) => proxy.server.close(resolve))
  }, 30_000)
})
