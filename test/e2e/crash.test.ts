/**
 * Crash recovery with real `ocn start` processes: a devnet (anvil with a block every second,
 * the real contracts, a verifier, one provider and a requester as separate processes over
 * TCP on 127.0.0.1). A provider is killed with SIGKILL after the award is on-chain and before
 * it committed; the requester is killed with SIGKILL after it collected a bid and before it
 * awarded. Each is restarted on the same data dir (same keys, config and LevelDB state) and
 * the lifecycle must complete, with the money moving exactly once, to the wei.
 */

import { type Devnet, type DevnetNode, DevnetProcesses, startDevnet } from '@ocn/cli'
import type { Job } from '@ocn/client'
import {
  type GetJobReturnType,
  getJob,
  getProviderRecord,
  getStake,
  getTokenBalance,
} from '@ocn/contracts-client'
import { type Address, createPublicClient, type Hex, http } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor, writeFixture } from './helpers.js'

/** Long enough to stop a process inside it on a loaded 2-core machine, short enough for the suite. */
const BIDDING_WINDOW_MS = 6_000
const CHALLENGE_WINDOW_SECONDS = 6

describe('crash recovery (ocn processes, kill -9, anvil)', () => {
  let devnet: Devnet
  /** The nodes' processes and APIs: kills, restarts on the same data dir, records over @ocn/client. */
  let nodes: DevnetProcesses
  let fixture: { modelPath: string; inputsPath: string }

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

  const jobIn = (name: string, jobId: string, states: Job['state'][], timeoutMs = 90_000) =>
    waitFor(
      `${name}: job ${jobId.slice(0, 10)} in ${states.join('|')}`,
      async () => {
        const job = await nodes.localJob(name, jobId)
        return job !== undefined && states.includes(job.state) ? job : undefined
      },
      timeoutMs,
    )

  /** What a stopped node's store on disk says of a job (where it was when it died). */
  const storedState = async (name: string, jobId: string) => (await nodes.storedJob(name, jobId))?.state

  async function waitForBid(jobId: string, provider: Address): Promise<void> {
    await waitFor(`the bid of ${provider} at the requester`, async () => {
      const bids = await nodes.client('requester').bids(jobId)
      return bids.find((b) => b.provider.toLowerCase() === provider.toLowerCase())
    })
  }

  const submit = async (): Promise<string> => {
    const { jobId } = await nodes.client('requester').submit({
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
    nodes = new DevnetProcesses(devnet)
    fixture = await writeFixture(devnet.dir)
  })

  afterAll(async () => {
    // a frozen process ignores SIGTERM until continued: what this file touched is killed first
    await nodes?.stop()
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
    await nodes.signal('provider-1', 'SIGSTOP')
    const awarded = await waitFor('the award on-chain', async () => {
      const job = await chainJob(jobId)
      return job.status === 'none' ? undefined : job
    })
    expect(awarded.status).toBe('awarded')
    expect(awarded.provider).toBe(provider.address)
    await nodes.kill9('provider-1')
    expect((await chainJob(jobId)).status).toBe('awarded')
    expect((await balances(provider.address)).locked).toBe(awarded.collateral)
    expect(['bidding', 'awarded', 'executing']).toContain(await storedState('provider-1', jobId))

    await nodes.restart('provider-1')
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
      const job = await nodes.localJob('requester', jobId)
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
    await nodes.kill9('requester')
    // died inside the bidding window: nothing on-chain yet
    expect((await chainJob(jobId)).status).toBe('none')
    expect(await storedState('requester', jobId)).toBe('bidding')

    await nodes.restart('requester')
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
    const bids = await nodes.client('requester').bids(jobId)
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
      const job = await nodes.localJob('requester', jobId)
      return (job?.detail as { results?: { verified: boolean } } | undefined)?.results
    })
    expect(results.verified).toBe(true)
  }, 150_000)
})
