/**
 * Crash recovery with real `ocn start` processes: a devnet (anvil with a block every second,
 * the real contracts, a verifier, one provider and a requester as separate processes over
 * TCP on 127.0.0.1). A provider is killed with SIGKILL after the award is on-chain and before
 * it committed; the requester is killed with SIGKILL after it collected a bid and before it
 * awarded. Each is restarted on the same data dir (same keys, config and LevelDB state) and
 * the lifecycle must complete, with the money moving exactly once, to the wei.
 */

import { join } from 'node:path'
import { type Devnet, type DevnetNode, type NodeProcess, spawnNode, startDevnet } from '@ocn/cli'
import {
  type GetJobReturnType,
  getJob,
  getProviderRecord,
  getStake,
  getTokenBalance,
} from '@ocn/contracts-client'
import { createStateStore, type JobRecord, readApiRuntimeFile, STATE_DIR_NAME } from '@ocn/node'
import { type Address, createPublicClient, type Hex, http } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor, writeFixture } from './helpers.js'

/** Long enough to stop a process inside it on a loaded 2-core machine, short enough for the suite. */
const BIDDING_WINDOW_MS = 6_000
const CHALLENGE_WINDOW_SECONDS = 6

interface BidJson {
  jobId: string
  provider: string
}

async function apiGet<T>(api: string, path: string): Promise<T> {
  const response = await fetch(new URL(path, api), { signal: AbortSignal.timeout(5_000) })
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

async function apiPost<T>(api: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(new URL(path, api), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  })
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

function exited(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

describe('crash recovery (ocn processes, kill -9, anvil)', () => {
  let devnet: Devnet
  let fixture: { modelPath: string; inputsPath: string }
  /** Processes this file started itself (the restarts); the devnet stops its own. */
  const restarted: NodeProcess[] = []
  /** Pids this file froze or killed, in case a test stops half-way. */
  const touched = new Set<number>()
  /** The current API of each node (a restart binds a new port). */
  const apis = new Map<string, string>()

  const node = (name: string): DevnetNode => devnet.nodes.find((n) => n.name === name)!
  const client = () => createPublicClient({ chain: devnet.chain.chain, transport: http(devnet.chain.rpcUrl) })
  const chainJob = (jobId: string): Promise<GetJobReturnType> =>
    getJob(client(), { jobMarket: devnet.deployment.addresses.jobMarket, jobId: jobId as Hex })

  async function balances(address: Address) {
    const { token, stakeManager } = devnet.deployment.addresses
    const stakeInfo = await getStake(client(), { stakeManager, account: address })
    return {
      token: await getTokenBalance(client(), { token, account: address }),
      staked: stakeInfo.staked,
      locked: stakeInfo.locked,
    }
  }

  const providerRecord = (provider: Address) =>
    getProviderRecord(client(), { jobMarket: devnet.deployment.addresses.jobMarket, provider })

  async function localJob(name: string, jobId: string): Promise<JobRecord | undefined> {
    try {
      return await apiGet<JobRecord>(apis.get(name)!, `/jobs/${jobId}`)
    } catch {
      return undefined
    }
  }

  const jobIn = (name: string, jobId: string, states: JobRecord['state'][], timeoutMs = 90_000) =>
    waitFor(
      `${name}: job ${jobId.slice(0, 10)} in ${states.join('|')}`,
      async () => {
        const job = await localJob(name, jobId)
        return job !== undefined && states.includes(job.state) ? job : undefined
      },
      timeoutMs,
    )

  /** The pid of the daemon running on a data dir, from the runtime file it writes there. */
  async function pidOf(name: string): Promise<number> {
    const runtime = await readApiRuntimeFile(node(name).dataDir)
    if (runtime === undefined) throw new Error(`${name} is not running`)
    touched.add(runtime.pid)
    return runtime.pid
  }

  /** What a stopped node's store on disk says of a job (where it was when it died). */
  async function storedState(name: string, jobId: string): Promise<JobRecord['state'] | undefined> {
    const store = createStateStore({ path: join(node(name).dataDir, STATE_DIR_NAME) })
    await store.open()
    try {
      return (await store.getJob(jobId))?.state
    } finally {
      await store.close()
    }
  }

  async function kill9(pid: number): Promise<void> {
    process.kill(pid, 'SIGKILL')
    await waitFor(`pid ${pid} gone`, async () => (exited(pid) ? true : undefined), 10_000, 50)
  }

  async function restart(name: string): Promise<void> {
    const proc = await spawnNode({ name, dataDir: node(name).dataDir, args: [], timeoutMs: 60_000 })
    restarted.push(proc)
    touched.add(proc.ready.pid)
    if (proc.ready.api === null) throw new Error(`${name} restarted without an API`)
    apis.set(name, proc.ready.api)
    // back in the network before the lifecycle goes on (it bootstraps from every other node)
    await waitFor(`${name} reconnected`, async () => {
      const status = await apiGet<{ network?: { peers: number } }>(proc.ready.api!, '/status')
      return (status.network?.peers ?? 0) >= 2 ? true : undefined
    })
  }

  async function waitForBid(jobId: string, provider: Address): Promise<void> {
    await waitFor(`the bid of ${provider} at the requester`, async () => {
      const { bids } = await apiGet<{ bids: BidJson[] }>(apis.get('requester')!, `/bids?jobId=${jobId}`)
      return bids.find((b) => b.provider.toLowerCase() === provider.toLowerCase())
    })
  }

  const submit = async (): Promise<string> => {
    const { jobId } = await apiPost<{ jobId: string }>(apis.get('requester')!, '/jobs', {
      ...fixture,
      kind: 'inference',
      verification: 'replay',
    })
    return jobId
  }

  beforeAll(async () => {
    devnet = await startDevnet({
      providers: 1,
      cheater: false,
      biddingWindowMs: BIDDING_WINDOW_MS,
      challengeWindowSeconds: CHALLENGE_WINDOW_SECONDS,
      blockTimeSeconds: 1,
      nodeLogLevel: 'info',
    })
    for (const n of devnet.nodes) apis.set(n.name, n.api)
    fixture = await writeFixture(devnet.dir)
  })

  afterAll(async () => {
    // a frozen process ignores SIGTERM until continued; kill what this file touched first
    for (const pid of touched) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    await Promise.all(restarted.map((p) => p.stop(2_000)))
    await devnet?.stop()
  })

  it('a provider killed (-9) after the award and before its commit: restarted, it commits, finalizes and is paid once', async () => {
    const provider = node('provider-1')
    const requester = node('requester')
    const feeBps = BigInt(devnet.deployment.params.protocolFeeBps)
    const before = {
      provider: await balances(provider.address),
      requester: await balances(requester.address),
    }
    const recordBefore = await providerRecord(provider.address)

    const jobId = await submit()
    await waitForBid(jobId, provider.address)
    // Frozen inside the bidding window, the provider cannot commit; the requester awards it
    // on-chain meanwhile. Killed then, it dies with the award on-chain and no commitment.
    const pid = await pidOf('provider-1')
    process.kill(pid, 'SIGSTOP')
    const awarded = await waitFor('the award on-chain', async () => {
      const job = await chainJob(jobId)
      return job.status === 'none' ? undefined : job
    })
    expect(awarded.status).toBe('awarded')
    expect(awarded.provider).toBe(provider.address)
    await kill9(pid)
    expect((await chainJob(jobId)).status).toBe('awarded')
    expect((await balances(provider.address)).locked).toBe(awarded.collateral)
    expect(['bidding', 'awarded', 'executing']).toContain(await storedState('provider-1', jobId))

    await restart('provider-1')
    const done = await jobIn('requester', jobId, ['finalized'])
    const providerDone = await jobIn('provider-1', jobId, ['finalized'])
    const onChain = await chainJob(jobId)
    expect(onChain.status).toBe('finalized')
    expect(onChain.resultRoot).toBe(done.resultRoot)
    expect(String(done.price)).toBe(awarded.price.toString())
    for (const record of [done, providerDone]) {
      for (const state of ['awarded', 'committed', 'finalized'] as const)
        expect(record.history.filter((h) => h.state === state)).toHaveLength(1)
    }

    // exactly one payment, to the wei: price less the protocol fee; collateral released
    const price = awarded.price
    const fee = (price * feeBps) / 10_000n
    const after = { provider: await balances(provider.address), requester: await balances(requester.address) }
    expect(after.provider.token).toBe(before.provider.token + price - fee)
    expect(after.provider.staked).toBe(before.provider.staked)
    expect(after.provider.locked).toBe(0n)
    expect(after.requester.token).toBe(before.requester.token - price)
    const recordAfter = await providerRecord(provider.address)
    expect(recordAfter.completed).toBe(recordBefore.completed + 1)
    expect(recordAfter.slashed).toBe(recordBefore.slashed)
    expect(recordAfter.totalEarned).toBe(recordBefore.totalEarned + price - fee)

    // the requester got and checked the results from the restarted provider
    const results = await waitFor('results checked at the requester', async () => {
      const job = await localJob('requester', jobId)
      return (job?.detail as { results?: { verified: boolean } } | undefined)?.results
    })
    expect(results.verified).toBe(true)
  }, 150_000)

  it('a requester killed (-9) after collecting a bid and before the award: restarted, it awards once and the job completes', async () => {
    const provider = node('provider-1')
    const requester = node('requester')
    const feeBps = BigInt(devnet.deployment.params.protocolFeeBps)
    const before = {
      provider: await balances(provider.address),
      requester: await balances(requester.address),
    }
    const recordBefore = await providerRecord(provider.address)

    const jobId = await submit()
    await waitForBid(jobId, provider.address)
    await kill9(await pidOf('requester'))
    // died inside the bidding window: nothing on-chain yet
    expect((await chainJob(jobId)).status).toBe('none')
    expect(await storedState('requester', jobId)).toBe('bidding')

    await restart('requester')
    const awarded = await jobIn('requester', jobId, ['awarded', 'executing', 'committed', 'finalized'])
    expect(awarded.provider?.toLowerCase()).toBe(provider.address.toLowerCase())
    const done = await jobIn('requester', jobId, ['finalized'])
    const providerDone = await jobIn('provider-1', jobId, ['finalized'])
    const onChain = await chainJob(jobId)
    expect(onChain.status).toBe('finalized')
    expect(onChain.provider).toBe(provider.address)
    for (const record of [done, providerDone]) {
      for (const state of ['awarded', 'committed', 'finalized'] as const)
        expect(record.history.filter((h) => h.state === state)).toHaveLength(1)
    }
    // one bid, accepted once
    const { bids } = await apiGet<{ bids: (BidJson & { status: string })[] }>(
      apis.get('requester')!,
      `/bids?jobId=${jobId}`,
    )
    expect(bids.filter((b) => b.status === 'accepted')).toHaveLength(1)

    const price = onChain.price
    const fee = (price * feeBps) / 10_000n
    const after = { provider: await balances(provider.address), requester: await balances(requester.address) }
    expect(after.requester.token).toBe(before.requester.token - price)
    expect(after.provider.token).toBe(before.provider.token + price - fee)
    expect(after.provider.locked).toBe(0n)
    const recordAfter = await providerRecord(provider.address)
    expect(recordAfter.completed).toBe(recordBefore.completed + 1)
    expect(recordAfter.totalEarned).toBe(recordBefore.totalEarned + price - fee)

    const results = await waitFor('results checked at the restarted requester', async () => {
      const job = await localJob('requester', jobId)
      return (job?.detail as { results?: { verified: boolean } } | undefined)?.results
    })
    expect(results.verified).toBe(true)
  }, 150_000)
})
