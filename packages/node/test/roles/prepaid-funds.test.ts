/**
 * The node's side of prepaid JobMarket balances, on a real anvil with the real contracts:
 * the requester's affordability rule before an award (the deposit only when it covers the
 * whole price, else the wallet with the allowance raised, else a typed refusal), the chain
 * service's deposit and withdrawal (the API's POST /deposit and /withdraw), and the provider's
 * payout choice applied at start only when it differs from the chain's.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Deployment,
  type DevChain,
  deployProtocol,
  getMarketAccount,
  openTokenAbi,
  startDevChain,
  transferToken,
} from '@ocn/contracts-client'
import { type Address, createWalletClient, http, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { readContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChainService, type OcnChainService } from '../../src/chain/index.js'
import { escrowSource } from '../../src/chain/reads.js'
import { createSilentLogger } from '../../src/core/logger.js'
import type { NodeKeys } from '../../src/keys/keystore.js'
import { applyPayoutChoice } from '../../src/roles/provider/payout.js'
import { prepareEscrow } from '../../src/roles/requester/allowance.js'
import { createStateStore, type StateStore } from '../../src/state/index.js'

const e = (n: string) => parseEther(n)

describe('escrowSource: the JobMarket rule for where an award takes its price', () => {
  it('uses the deposit only when it covers the whole price, else the wallet, else nothing', () => {
    expect(escrowSource({ market: e('30'), balance: 0n }, e('30'))).toBe('market')
    expect(escrowSource({ market: e('30'), balance: e('100') }, e('20'))).toBe('market')
    // a deposit one wei short is not used in part: the wallet pays the whole price
    expect(escrowSource({ market: e('30') - 1n, balance: e('30') }, e('30'))).toBe('wallet')
    expect(escrowSource({ market: e('30') - 1n, balance: e('30') - 1n }, e('30'))).toBeUndefined()
    // the two are never added up
    expect(escrowSource({ market: e('20'), balance: e('20') }, e('30'))).toBeUndefined()
    // a price of 0 from an empty balance: the market's transferFrom of nothing
    expect(escrowSource({ market: 0n, balance: 0n }, 0n)).toBe('wallet')
  })
})

describe('prepaid balances on a real chain', () => {
  let chain: DevChain
  let dir: string
  let deployment: Deployment
  let state: StateStore
  let service: OcnChainService
  let keys: NodeKeys
  let address: Address

  const allowance = () =>
    readContract(service.client, {
      address: deployment.addresses.token,
      abi: openTokenAbi,
      functionName: 'allowance',
      args: [address, deployment.addresses.jobMarket],
    })
  const market = async () =>
    getMarketAccount(service.client, { jobMarket: deployment.addresses.jobMarket, account: address })

  beforeAll(async () => {
    chain = await startDevChain()
    dir = await mkdtemp(join(tmpdir(), 'ocn-prepaid-'))
    const deployer = createWalletClient({
      account: privateKeyToAccount(chain.privateKeys[0]!),
      chain: chain.chain,
      transport: http(chain.rpcUrl),
    })
    deployment = await deployProtocol(deployer)
    const account = privateKeyToAccount(chain.privateKeys[1]!)
    address = account.address
    await transferToken(deployer, { token: deployment.addresses.token, to: address, amount: e('100') })
    state = createStateStore({ path: join(dir, 'state') })
    await state.open()
    service = createChainService(
      { rpcUrl: chain.rpcUrl, account, deployment, confirmations: 0, pollIntervalMs: 50 },
      { state, logger: createSilentLogger() },
    )
    await service.start()
    keys = { account } as NodeKeys
  }, 120_000)

  afterAll(async () => {
    await service?.stop()
    await state?.close()
    await chain?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('deposits and withdraws through the chain service, keeping the allowance it found', async () => {
    await expect(service.deposit!(e('101'))).rejects.toMatchObject({ code: 'CHAIN_INSUFFICIENT_FUNDS' })
    expect(await service.deposit!(e('40'))).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await service.balances(address)).toMatchObject({
      token: e('60'),
      market: e('40'),
      payoutToBalance: false,
    })
    expect(await allowance()).toBe(0n)
    await expect(service.withdraw!(e('41'))).rejects.toMatchObject({ code: 'CHAIN_INSUFFICIENT_FUNDS' })
    await service.withdraw!(e('10'))
    expect(await service.balances(address)).toMatchObject({ token: e('70'), market: e('30') })
  })

  it('before an award: the deposit when it covers the price (no approval), else the wallet (approved), else a typed refusal', async () => {
    // wallet 70, market 30
    expect(await prepareEscrow({ chain: service, keys }, e('30'))).toBe('market')
    expect(await allowance()).toBe(0n)
    expect(await prepareEscrow({ chain: service, keys }, e('30') + 1n)).toBe('wallet')
    expect(await allowance()).toBe(e('30') + 1n)
    // the allowance already covers it: no second approval
    expect(await prepareEscrow({ chain: service, keys }, e('30') + 1n)).toBe('wallet')
    expect(await allowance()).toBe(e('30') + 1n)
    const refused = await prepareEscrow({ chain: service, keys }, e('70') + 1n).catch((err: unknown) => err)
    expect(refused).toMatchObject({ code: 'ROLE_INSUFFICIENT_BALANCE' })
    expect((refused as { details: string }).details).toContain('market balance 30000000000000000000')
    expect((await market()).balance).toBe(e('30'))
  })

  it('the provider sets its payout choice at start only when it differs from the chain', async () => {
    const log = createSilentLogger()
    const nonce = () => service.client.getTransactionCount({ address })
    const before = await nonce()
    expect(await applyPayoutChoice({ chain: service, keys }, false, log)).toBe(false)
    expect(await nonce()).toBe(before)
    expect(await applyPayoutChoice({ chain: service, keys }, true, log)).toBe(true)
    expect((await market()).payoutToBalance).toBe(true)
    expect(await applyPayoutChoice({ chain: service, keys }, true, log)).toBe(false)
    expect(await nonce()).toBe(before + 1)
    expect(await applyPayoutChoice({ chain: service, keys }, false, log)).toBe(true)
    expect((await market()).payoutToBalance).toBe(false)
  })
})
