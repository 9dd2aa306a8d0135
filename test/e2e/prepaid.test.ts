/**
 * Prepaid JobMarket balances end to end: a requester whose whole OPEN sits in its market
 * balance (deposited through its node's API with @ocn/client, so its wallet holds none) gets
 * bids (the providers' funds check counts the deposit), awards from the deposit, and a provider
 * that opted in by config (provider.payoutToBalance, applied at its start) is paid into its
 * market balance with no token transfer; it then withdraws and its wallet gains exactly that.
 * Real daemons over libp2p TCP on 127.0.0.1, real anvil and contracts, real ONNX Runtime.
 * Every amount is checked to the wei.
 */
import { createOcnClient } from '@ocn/client'
import {
  type Deployment,
  type DevChain,
  getJob,
  getMarketAccount,
  getTokenBalance,
  openTokenAbi,
  withdrawBalance,
} from '@ocn/contracts-client'
import type { RequesterRole } from '@ocn/node'
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  fundAndStake,
  increaseTime,
  jobIn,
  OPEN,
  removeDir,
  startChain,
  startNodes,
  type TestNode,
  tempDir,
  waitFor,
  walletFor,
  writeFixture,
} from './helpers.js'

const REQUESTER = 1
const PROVIDER = 2
const TREASURY = 9
const CHALLENGE_WINDOW = 10
const DEPOSIT = 10n * OPEN

describe('prepaid balances (in-process nodes, anvil, ORT)', () => {
  let chain: DevChain
  let deployment: Deployment
  let dir: string
  let nodes: TestNode[] = []
  let fixture: { modelPath: string; inputsPath: string }
  const node = (name: string) => nodes.find((n) => n.name === name)!
  const reader = () => walletFor(chain, chain.privateKeys[0]!)
  const tokens = (account: Address) =>
    getTokenBalance(reader(), { token: deployment.addresses.token, account })
  const market = (account: Address) =>
    getMarketAccount(reader(), { jobMarket: deployment.addresses.jobMarket, account })

  beforeAll(async () => {
    dir = await tempDir()
    ;({ chain, deployment } = await startChain({
      challengeWindow: CHALLENGE_WINDOW,
      treasuryIndex: TREASURY,
    }))
    await fundAndStake(chain, deployment, REQUESTER, DEPOSIT, 0n)
    await fundAndStake(chain, deployment, PROVIDER, 200n * OPEN, 100n * OPEN)
    fixture = await writeFixture(dir)
    nodes = await startNodes(chain, deployment, dir, [
      {
        name: 'provider',
        accountIndex: PROVIDER,
        roles: ['provider'],
        configure: (c) => {
          c.provider.payoutToBalance = true
        },
      },
      {
        name: 'requester',
        accountIndex: REQUESTER,
        roles: ['requester'],
        configure: (c) => {
          c.api = { ...c.api, enabled: true, port: 0 }
        },
      },
    ])
  }, 240_000)

  afterAll(async () => {
    for (const n of [...nodes].reverse()) await n.daemon.stop().catch(() => {})
    await chain?.stop()
    if (dir) await removeDir(dir)
  })

  it('awards from the deposit, pays the opted-in provider to its balance, and the provider withdraws it', async () => {
    const requesterAddress = node('requester').address
    const providerAddress = node('provider').address
    // the provider applied provider.payoutToBalance at start
    expect(await market(providerAddress)).toEqual({ balance: 0n, payoutToBalance: true })

    // the requester moves all its OPEN into the market through its node's API
    const ocn = createOcnClient({ url: node('requester').daemon.apiUrl! })
    const deposited = await ocn.deposit(DEPOSIT)
    expect(deposited.balances).toMatchObject({ token: 0n, market: DEPOSIT, payoutToBalance: false })
    expect(await tokens(requesterAddress)).toBe(0n)

    const providerTokensBefore = await tokens(providerAddress)
    const fromBlock = await reader().getBlockNumber()
    const requester = node('requester').components.parts.roles.requester as RequesterRole
    const submitted = await requester.submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
    // a loaded machine can miss the bidding window: the job is then offered again under a new id
    const committed = await jobIn(node('requester'), submitted.jobId, ['committed', 'finalized'], {
      followReoffers: true,
    })
    const jobId = committed.id
    expect(committed.provider).toBe(providerAddress)
    // nobody checks this job: the challenge window passes on anvil's clock
    await increaseTime(chain, CHALLENGE_WINDOW + 1)
    const finalized = await jobIn(node('requester'), jobId, ['finalized'])
    await jobIn(node('provider'), jobId, ['finalized'])
    const onChain = await getJob(reader(), { jobMarket: deployment.addresses.jobMarket, jobId: jobId as Hex })
    expect(onChain.status).toBe('finalized')
    const price = onChain.price
    expect(finalized.price).toBe(price)
    const payout = price - (price * BigInt(deployment.params.protocolFeeBps)) / 10_000n
    expect(price).toBeGreaterThan(0n)

    // requester: the price left the deposit; the wallet never held or paid anything
    expect(await market(requesterAddress)).toEqual({ balance: DEPOSIT - price, payoutToBalance: false })
    expect(await tokens(requesterAddress)).toBe(0n)
    // provider: paid into its market balance, its wallet untouched, no token transfer to it at all
    expect(await market(providerAddress)).toEqual({ balance: payout, payoutToBalance: true })
    expect(await tokens(providerAddress)).toBe(providerTokensBefore)
    const transfersIn = await reader().getContractEvents({
      address: deployment.addresses.token,
      abi: openTokenAbi,
      eventName: 'Transfer',
      args: { to: providerAddress },
      fromBlock,
    })
    expect(transfersIn).toHaveLength(0)
    // and the requester's balances through the API show the same
    expect(await ocn.balances()).toMatchObject({ token: 0n, market: DEPOSIT - price })

    // the provider cashes out: its wallet gains exactly the payout
    await withdrawBalance(walletFor(chain, chain.privateKeys[PROVIDER]!), {
      jobMarket: deployment.addresses.jobMarket,
      amount: payout,
    })
    await waitFor('the withdrawal in the provider wallet', async () =>
      (await tokens(providerAddress)) === providerTokensBefore + payout ? true : undefined,
    )
    expect(await market(providerAddress)).toEqual({ balance: 0n, payoutToBalance: true })
  })
})
