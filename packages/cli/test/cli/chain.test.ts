/**
 * The chain commands (stake, unstake, balance) run as real child processes against a real
 * anvil with the real contracts deployed.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Deployment,
  type DevChain,
  defaultDatanetParameters,
  deployProtocol,
  getMarketAccount,
  getStake,
  getTokenBalance,
  startDevChain,
  transferToken,
  writeDeploymentFile,
} from '@ocn/contracts-client'
import { createTestClient, createWalletClient, http, parseEther } from 'viem'
import { sendTransaction } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ocnBin, runOcnIn } from '../ocn.js'

const bin = ocnBin
let dir: string
let chain: DevChain
let deployment: Deployment

const ocn = (args: string[], env: Record<string, string> = {}) => runOcnIn(dir, args, { env })

function admin() {
  return createWalletClient({
    account: chain.accounts[0]!,
    chain: chain.chain,
    transport: http(chain.rpcUrl),
  })
}

/** A node data dir with keys and the deployment file, its account holding gas and `open` OPEN. */
async function fundedNode(name: string, open: bigint): Promise<{ dataDir: string; address: `0x${string}` }> {
  const dataDir = join(dir, name)
  const init = await ocn(['init', '--data-dir', dataDir, '--json'])
  expect(init.code).toBe(0)
  const address = JSON.parse(init.stdout).address as `0x${string}`
  await writeDeploymentFile(join(dataDir, 'deployment.json'), deployment)
  const client = admin()
  await sendTransaction(client, { to: address, value: parseEther('1') } as Parameters<
    typeof sendTransaction
  >[1])
  if (open > 0n) await transferToken(client, { token: deployment.addresses.token, to: address, amount: open })
  return { dataDir, address }
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-chain-cli-'))
  chain = await startDevChain()
  deployment = await deployProtocol(admin(), { params: { challengeWindow: 60, unbondingDelay: 60n } })
})

afterAll(async () => {
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('ocn stake / unstake / balance', () => {
  it('stakes, unbonds, refuses an early withdrawal, withdraws after the delay', async () => {
    const { dataDir, address } = await fundedNode('provider', parseEther('500'))
    const rpc = ['--data-dir', dataDir, '--rpc-url', chain.rpcUrl]

    const staked = await ocn(['stake', '200', ...rpc, '--json'])
    expect(staked.stderr).toBe('')
    expect(staked.code).toBe(0)
    const stakedJson = JSON.parse(staked.stdout)
    expect(stakedJson.staked).toBe(parseEther('200').toString())
    expect(stakedJson.balances).toMatchObject({
      address,
      token: parseEther('300').toString(),
      staked: parseEther('200').toString(),
      free: parseEther('200').toString(),
    })
    // The chain itself agrees with what the command printed.
    const onChain = await getStake(admin(), {
      stakeManager: deployment.addresses.stakeManager,
      account: address,
    })
    expect(onChain.staked).toBe(parseEther('200'))

    const text = await ocn(['balance', ...rpc])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('staked   200 OPEN')

    const unbond = await ocn(['unstake', '50.5', ...rpc, '--json'])
    expect(unbond.code).toBe(0)
    expect(JSON.parse(unbond.stdout).balances).toMatchObject({
      staked: parseEther('149.5').toString(),
      unbonding: parseEther('50.5').toString(),
    })

    const early = await ocn(['unstake', '--withdraw', ...rpc, '--json'])
    expect(early.code).toBe(2)
    expect(JSON.parse(early.stdout).error.code).toBe('CHAIN_UNBONDING_NOT_READY')

    await admin().request({ method: 'evm_increaseTime' as 'eth_chainId', params: [61] as never })
    await admin().request({ method: 'evm_mine' as 'eth_chainId' })
    const withdrawn = await ocn(['unstake', '--withdraw', ...rpc, '--json'])
    expect(withdrawn.code).toBe(0)
    expect(JSON.parse(withdrawn.stdout).withdrawn).toBe(parseEther('50.5').toString())
    expect(await getTokenBalance(admin(), { token: deployment.addresses.token, account: address })).toBe(
      parseEther('350.5'),
    )

    const balance = JSON.parse((await ocn(['balance', ...rpc, '--json'])).stdout)
    expect(balance).toMatchObject({ chainId: 31337, token: parseEther('350.5').toString(), unbonding: '0' })
  })

  it('explains what is wrong and moves nothing: short balance, short stake, bad amount', async () => {
    const { dataDir, address } = await fundedNode('poor', parseEther('10'))
    const rpc = ['--data-dir', dataDir, '--rpc-url', chain.rpcUrl]

    const tooMuch = await ocn(['stake', '11', ...rpc])
    expect(tooMuch.code).toBe(2)
    expect(tooMuch.stderr).toMatch(/^error: 0x[0-9a-fA-F]{40} holds 10 OPEN, not the 11 OPEN to stake/)

    const unstakeMore = await ocn(['unstake', '1', ...rpc, '--json'])
    expect(unstakeMore.code).toBe(2)
    expect(JSON.parse(unstakeMore.stdout).error.code).toBe('CHAIN_INSUFFICIENT_STAKE')

    const nothing = await ocn(['unstake', '--withdraw', ...rpc, '--json'])
    expect(JSON.parse(nothing.stdout).error.code).toBe('CHAIN_NOTHING_UNBONDING')

    for (const bad of ['-1', 'ten', '0', '1e3']) {
      const result = await ocn(['stake', bad, ...rpc, '--json'])
      expect(result.code).toBe(2)
      expect(JSON.parse(result.stdout).error.code).toMatch(/^(CHAIN_INVALID_AMOUNT|CLI_USAGE)$/)
    }
    // Nothing moved.
    expect(await getTokenBalance(admin(), { token: deployment.addresses.token, account: address })).toBe(
      parseEther('10'),
    )
  })

  it('names the missing deployment file, a wrong chain, and an unreachable RPC endpoint', async () => {
    const dataDir = join(dir, 'lonely')
    await ocn(['init', '--data-dir', dataDir])
    const missing = await ocn(['balance', '--data-dir', dataDir, '--rpc-url', chain.rpcUrl, '--json'])
    expect(missing.code).toBe(2)
    const missingError = JSON.parse(missing.stdout).error
    expect(missingError.code).toBe('CHAIN_DEPLOYMENT_MISSING')
    expect(missingError.message).toContain(join(dataDir, 'deployment.json'))

    const broken = join(dir, 'broken.json')
    await writeFile(broken, '{"chainId": 1}')
    const invalid = await ocn(['balance', '--data-dir', dataDir, '--deployment', broken, '--json'])
    expect(JSON.parse(invalid.stdout).error.code).toBe('CHAIN_DEPLOYMENT_INVALID')

    const other = join(dir, 'other-chain.json')
    await writeDeploymentFile(other, { ...deployment, chainId: 1 })
    const mismatch = await ocn([
      'balance',
      '--data-dir',
      dataDir,
      '--deployment',
      other,
      '--rpc-url',
      chain.rpcUrl,
    ])
    expect(mismatch.code).toBe(2)
    expect(mismatch.stderr).toContain('is for chain 1 but')

    await writeDeploymentFile(join(dataDir, 'deployment.json'), deployment)
    // A port nothing listens on: refused at once, reported as unreachable.
    const down = await ocn(['stake', '1', '--data-dir', dataDir, '--rpc-url', 'http://127.0.0.1:1', '--json'])
    expect(down.code).toBe(2)
    expect(JSON.parse(down.stdout).error).toMatchObject({ code: 'CHAIN_UNREACHABLE' })
  })
})

describe('ocn market deposit / withdraw', () => {
  it('deposits into and withdraws from the market balance, shown by ocn balance; refusals name the fix', async () => {
    const { dataDir, address } = await fundedNode('depositor', parseEther('100'))
    const rpc = ['--data-dir', dataDir, '--rpc-url', chain.rpcUrl]
    const market = async () =>
      (await getMarketAccount(admin(), { jobMarket: deployment.addresses.jobMarket, account: address }))
        .balance
    const tokens = () => getTokenBalance(admin(), { token: deployment.addresses.token, account: address })

    const tooMuch = await ocn(['market', 'deposit', '100.5', ...rpc, '--json'])
    expect(tooMuch.code).toBe(2)
    expect(JSON.parse(tooMuch.stdout).error.code).toBe('CHAIN_INSUFFICIENT_BALANCE')

    const deposited = await ocn(['market', 'deposit', '40.25 OPEN', ...rpc, '--json'])
    expect(deposited.stderr).toBe('')
    expect(deposited.code).toBe(0)
    expect(JSON.parse(deposited.stdout)).toMatchObject({
      deposited: parseEther('40.25').toString(),
      balances: { token: parseEther('59.75').toString(), market: parseEther('40.25').toString() },
    })
    expect(await market()).toBe(parseEther('40.25'))
    expect(await tokens()).toBe(parseEther('59.75'))

    const text = await ocn(['balance', ...rpc])
    expect(text.stdout).toContain('market   40.25 OPEN (prepaid in the JobMarket; payouts by transfer)')
    expect(JSON.parse((await ocn(['balance', ...rpc, '--json'])).stdout)).toMatchObject({
      market: parseEther('40.25').toString(),
      payoutToBalance: false,
    })

    const over = await ocn(['market', 'withdraw', '41', ...rpc])
    expect(over.code).toBe(2)
    expect(over.stderr).toContain('the market balance of')
    expect(over.stderr).toContain('not the 41 OPEN asked')

    const part = await ocn(['market', 'withdraw', '0.25', ...rpc, '--json'])
    expect(part.code).toBe(0)
    expect(JSON.parse(part.stdout).withdrawn).toBe(parseEther('0.25').toString())
    const all = await ocn(['market', 'withdraw', '--all', ...rpc, '--json'])
    expect(all.code).toBe(0)
    expect(JSON.parse(all.stdout).withdrawn).toBe(parseEther('40').toString())
    expect(await market()).toBe(0n)
    expect(await tokens()).toBe(parseEther('100'))
    const empty = await ocn(['market', 'withdraw', '--all', ...rpc, '--json'])
    expect(JSON.parse(empty.stdout).error.code).toBe('CHAIN_INSUFFICIENT_MARKET_BALANCE')
    const both = await ocn(['market', 'withdraw', '1', '--all', ...rpc, '--json'])
    expect(JSON.parse(both.stdout).error.code).toBe('CLI_USAGE')
  })
})

describe('ocn datanet / ocn model', () => {
  it('creates a curated datanet (burning OPEN), contributes, curates, proposes and objects to a model', async () => {
    const { dataDir, address } = await fundedNode('datanet', parseEther('1000'))
    const rpc = ['--data-dir', dataDir, '--rpc-url', chain.rpcUrl, '--json']
    const run = async (args: string[]) => {
      const r = await ocn([...args, ...rpc])
      expect(r.stderr, args.join(' ')).toBe('')
      expect(r.code, args.join(' ')).toBe(0)
      return JSON.parse(r.stdout)
    }
    const created = await run(['datanet', 'create', '--curated', '--describe', 'iris rows'])
    expect(created).toMatchObject({ curated: true, burned: parseEther('100').toString() })
    const data = join(dir, 'rows.bin')
    await writeFile(data, 'ten rows of data')
    const id = created.datanetId as string
    const contributed = await run(['datanet', 'contribute', id, data, '--rows', '10'])
    expect(contributed).toMatchObject({ index: '0', status: 'pending', stake: parseEther('50').toString() })
    // one contribution per contributor: the second is refused with the contract's reason
    const again = await ocn(['datanet', 'contribute', id, data, '--rows', '10', ...rpc])
    expect(again.code).toBe(2)
    expect(JSON.parse(again.stdout).error.code).toBe('CHAIN_REVERTED')
    await run(['datanet', 'curate', id, '0', 'accept'])
    const status = await run(['datanet', 'status', id])
    expect(status).toMatchObject({
      accepted: 1,
      contributions: [{ index: '0', status: 'accepted', rows: '10' }],
    })

    const modelHash = `0x${'ab'.repeat(32)}`
    const proposed = await run([
      'model',
      'propose',
      modelHash,
      '--pointer',
      'ipfs://model',
      '--spec-hash',
      `0x${'01'.repeat(32)}`,
      '--report-hash',
      `0x${'02'.repeat(32)}`,
    ])
    expect(proposed.reviewEndsAt).toBeGreaterThan(0)
    const objected = await run(['model', 'object', modelHash, '--reason', 'eval report is wrong'])
    expect(objected.bond).toBe(parseEther('10').toString())
    const model = await run(['model', 'status', modelHash])
    expect(model).toMatchObject({ status: 'proposed', owner: address, objection: { objector: address } })
    // to the wei: the burn, the stake and the bond left the account
    const left = await getTokenBalance(admin(), { token: deployment.addresses.token, account: address })
    expect(left).toBe(parseEther('1000') - parseEther('100') - parseEther('50') - parseEther('10'))

    // claim: no attribution recorded yet, and the stake is locked for the governed period
    const early = await run(['datanet', 'claim', id])
    expect(early).toMatchObject({
      contributor: address,
      paid: '0',
      claims: [],
      stake: { state: 'locked', index: '0', amount: parseEther('50').toString() },
    })
    const test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
    await test.increaseTime({ seconds: defaultDatanetParameters.stakeLockPeriod + 1 })
    await test.mine({ blocks: 1 })
    const claimed = await run(['datanet', 'claim', id])
    expect(claimed.stake).toMatchObject({ state: 'withdrawn', amount: parseEther('50').toString() })
    expect(await getTokenBalance(admin(), { token: deployment.addresses.token, account: address })).toBe(
      left + parseEther('50'),
    )
    const bad = await ocn(['datanet', 'claim', id, '--for', 'nobody', ...rpc])
    expect(bad.code).toBe(2)
    expect(JSON.parse(bad.stdout).error.code).toBe('CHAIN_INVALID_ARGUMENT')
  })
})
