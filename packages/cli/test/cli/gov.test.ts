/**
 * `ocn gov` as real child processes against a real anvil: the protocol under a real
 * OpenGovernor + timelock (tiny delays), a proposal raising the protocol fee delegated,
 * proposed, voted, queued and executed from the CLI, and the fee read back from the chain.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Deployment,
  type DevChain,
  deployGovernance,
  deployProtocol,
  jobMarketAbi,
  stakeManagerAbi,
  startDevChain,
  transferToken,
  writeDeploymentFile,
} from '@ocn/contracts-client'
import { createTestClient, createWalletClient, http, parseEther } from 'viem'
import { readContract, sendTransaction } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseParameterChange } from '../../src/commands/gov-proposals.js'
import { ocnBin, runOcnIn } from '../ocn.js'

const bin = ocnBin
const VOTING_DELAY = 10
const VOTING_PERIOD = 100
const TIMELOCK_DELAY = 50n
let dir: string
let chain: DevChain
let deployment: Deployment
let dataDir: string
let rpc: string[]

const ocn = (args: string[]) => runOcnIn(dir, args)

/** The fields of the `--json` replies this test reads (each command prints a subset). */
interface Reply {
  error: { code: string; message: string }
  proposalId: string
  snapshot: string
  deadline: string
  eta: string
  changes: unknown
  savedTo: string
  votes: { for: string } & string
  weight: string
  state: string
}

/** Runs `ocn ... --json` and returns the parsed object, checking the exit code. */
async function json(args: string[], code = 0): Promise<Reply> {
  const out = await ocn([...args, ...rpc, '--json'])
  expect(out.code, out.stdout + out.stderr).toBe(code)
  return JSON.parse(out.stdout) as Reply
}

function admin() {
  return createWalletClient({
    account: chain.accounts[0]!,
    chain: chain.chain,
    transport: http(chain.rpcUrl),
  })
}

async function advance(seconds: number | bigint): Promise<void> {
  const test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
  await test.increaseTime({ seconds: Number(seconds) })
  await test.mine({ blocks: 1 })
}

/** Mines one block at exactly `timestamp` (seconds). */
async function mineAt(timestamp: bigint): Promise<void> {
  const test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
  await test.setNextBlockTimestamp({ timestamp })
  await test.mine({ blocks: 1 })
}

async function protocolFeeBps(): Promise<number> {
  const p = await readContract(admin(), {
    address: deployment.addresses.jobMarket,
    abi: jobMarketAbi,
    functionName: 'params',
  })
  return p.protocolFeeBps
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-gov-cli-'))
  chain = await startDevChain()
  deployment = await deployProtocol(admin(), { params: { challengeWindow: 60, unbondingDelay: 60n } })
  dataDir = join(dir, 'node')
  rpc = ['--data-dir', dataDir, '--rpc-url', chain.rpcUrl]
  const init = await ocn(['init', '--data-dir', dataDir, '--json'])
  expect(init.code).toBe(0)
  const address = JSON.parse(init.stdout).address as `0x${string}`
  await sendTransaction(admin(), { to: address, value: parseEther('1') } as Parameters<
    typeof sendTransaction
  >[1])
  // 50M of the 1e9 supply: above the 4 % quorum (40M) on its own once delegated
  await transferToken(admin(), {
    token: deployment.addresses.token,
    to: address,
    amount: parseEther('50000000'),
  })
  // the protocol as it was before governance, to show the command refusing it
  await writeDeploymentFile(join(dir, 'ungoverned.json'), deployment)
  await deployGovernance(admin(), {
    deployment,
    governor: {
      votingDelay: VOTING_DELAY,
      votingPeriod: VOTING_PERIOD,
      proposalThreshold: parseEther('1000'),
      quorumPercent: 4,
      timelockDelay: TIMELOCK_DELAY,
    },
    outFile: join(dataDir, 'deployment.json'),
  })
}, 120_000)

afterAll(async () => {
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('ocn gov', () => {
  it('delegates, proposes a fee change, votes, queues and executes it; refuses each step out of order', async () => {
    const delegated = await json(['gov', 'delegate'])
    expect(BigInt(delegated.votes)).toBe(parseEther('50000000'))
    await advance(1)

    const proposed = await json([
      'gov',
      'propose',
      '--set',
      'protocolFeeBps=300',
      '--set',
      'noShowSlashBps=1500',
      '--set',
      'unbondingDelay=120',
      '--set',
      'attributionShareBps=500',
      '-m',
      'Raise the protocol fee to 3 %',
    ])
    const id = proposed.proposalId as string
    expect(BigInt(proposed.deadline) - BigInt(proposed.snapshot)).toBe(BigInt(VOTING_PERIOD))
    expect(proposed.changes).toEqual([
      { parameter: 'protocolFeeBps', value: '300' },
      { parameter: 'noShowSlashBps', value: '1500' },
      { parameter: 'unbondingDelay', value: '120' },
      { parameter: 'attributionShareBps', value: '500' },
    ])
    const saved = JSON.parse(await readFile(proposed.savedTo, 'utf8'))
    expect(saved.description).toBe('Raise the protocol fee to 3 %')
    expect(saved.calls).toHaveLength(4)

    const early = await json(['gov', 'vote', id, 'for'], 2)
    expect(early.error.code).toBe('GOV_VOTING_NOT_OPEN')
    await advance(VOTING_DELAY + 1)

    const vote = await json(['gov', 'vote', id, 'for', '--reason', 'fund the treasury'])
    expect(BigInt(vote.weight)).toBe(parseEther('50000000'))
    const again = await json(['gov', 'vote', id, 'against'], 2)
    expect(again.error.code).toBe('GOV_ALREADY_VOTED')
    const tooSoon = await json(['gov', 'queue', id], 2)
    expect(tooSoon.error.code).toBe('GOV_NOT_QUEUEABLE')
    expect(tooSoon.error.message).toContain('voting is still open')

    await advance(VOTING_PERIOD + 1)
    const closed = await json(['gov', 'vote', id, 'abstain'], 2)
    expect(closed.error.code).toBe('GOV_VOTING_CLOSED')
    const passed = await json(['gov', 'status', id])
    expect(passed).toMatchObject({
      state: 'succeeded',
      quorumReached: true,
      quorum: parseEther('40000000').toString(),
    })
    expect(BigInt(passed.votes.for)).toBe(parseEther('50000000'))

    const queued = await json(['gov', 'queue', id])
    const premature = await json(['gov', 'execute', id], 2)
    expect(premature.error.code).toBe('GOV_NOT_READY')
    expect(premature.error.message).toContain(new Date(Number(queued.eta) * 1000).toISOString())
    // One second short of the eta the command still says when, instead of letting the
    // simulation against that block hit the timelock's revert.
    await mineAt(BigInt(queued.eta) - 1n)
    const lastSecond = await json(['gov', 'execute', id], 2)
    expect(lastSecond.error.code).toBe('GOV_NOT_READY')
    expect(lastSecond.error.message).toContain('1 s from the chain')
    expect(await protocolFeeBps()).toBe(250)

    await advance(TIMELOCK_DELAY + 1n)
    // Without the saved calls (a proposal made elsewhere) execute rebuilds them from the
    // governor's ProposalCreated event.
    await rm(proposed.savedTo)
    const executed = await json(['gov', 'execute', id])
    expect(executed.state).toBe('executed')
    expect(await protocolFeeBps()).toBe(300)
    const p = await readContract(admin(), {
      address: deployment.addresses.jobMarket,
      abi: jobMarketAbi,
      functionName: 'params',
    })
    // the slash fraction not named kept its value, the one named changed
    expect([p.cheatSlashBps, p.noShowSlashBps]).toEqual([10_000, 1500])
    expect(
      await readContract(admin(), {
        address: deployment.addresses.jobMarket,
        abi: jobMarketAbi,
        functionName: 'attributionShareBps',
      }),
    ).toBe(500)
    expect(
      await readContract(admin(), {
        address: deployment.addresses.stakeManager,
        abi: stakeManagerAbi,
        functionName: 'unbondingDelay',
      }),
    ).toBe(120n)
    expect((await json(['gov', 'status', id])).state).toBe('executed')

    const text = await ocn(['gov', 'status', id, ...rpc])
    expect(text.code, text.stdout + text.stderr).toBe(0)
    expect(text.stdout).toContain('state      executed')
  })

  it('parses parameter values in their units and refuses bad ones before touching the chain', () => {
    expect(parseParameterChange('verifierMinStake=2.5')).toEqual({
      parameter: 'verifierMinStake',
      value: parseEther('2.5').toString(),
    })
    expect(parseParameterChange('challengeWindow=900')).toEqual({
      parameter: 'challengeWindow',
      value: '900',
    })
    expect(() => parseParameterChange('protocolFeeBps=10001')).toThrow('above its largest value')
    expect(() => parseParameterChange('challengeWindow=1.5')).toThrow('whole number of seconds')
    expect(() => parseParameterChange('treasury=0x12')).toThrow('must be an address')
    expect(() => parseParameterChange('protocolFeeBps')).toThrow('needs a value')
  })

  it('says clearly what is wrong: no governance, unknown proposal, unknown parameter', async () => {
    const ungoverned = await json(['gov', 'status', '--deployment', join(dir, 'ungoverned.json')], 2)
    expect(ungoverned.error.code).toBe('GOV_NOT_DEPLOYED')
    // Delegating is the token's business: it works before governance is deployed.
    const early = await json(['gov', 'delegate', '--deployment', join(dir, 'ungoverned.json')])
    expect(BigInt(early.votes)).toBe(parseEther('50000000'))
    const unknown = await json(['gov', 'status', '12345'], 2)
    expect(unknown.error.code).toBe('GOV_PROPOSAL_UNKNOWN')
    const badParam = await json(['gov', 'propose', '--set', 'feeBps=1', '-m', 'x'], 2)
    expect(badParam.error.code).toBe('GOV_INVALID_ARGUMENT')
    expect(badParam.error.message).toContain('unknown parameter "feeBps"')
    const badVote = await json(['gov', 'vote', '1', 'maybe'], 2)
    expect(badVote.error.code).toBe('GOV_INVALID_ARGUMENT')
  })
})
