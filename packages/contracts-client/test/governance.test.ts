// Hybrid governance against a real anvil: the OpenGovernor + timelock own every parameter, the
// flash-loan attack fails (votes come from the snapshot), and the council's bounded powers work
// within range, revert outside it or too soon, and can be vetoed by a full vote.

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Address,
  createTestClient,
  type Hex,
  http,
  keccak256,
  parseEther,
  parseEventLogs,
  toFunctionSelector,
  toHex,
} from 'viem'
import { getTransactionReceipt, readContract, writeContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  accessManagerAbi,
  castVote,
  councilBoundsCall,
  councilVetoCall,
  type Deployment,
  type DevChain,
  delegateVotes,
  deployGovernance,
  deployProtocol,
  executeCouncilChange,
  executeProposal,
  type GovernanceDeployment,
  GovernanceDeploymentError,
  getCouncilBounds,
  getCouncilChange,
  getProposalState,
  getProposalStatus,
  getVotes,
  jobMarketAbi,
  openGovernorAbi,
  openTokenAbi,
  type Proposal,
  ProtocolRole,
  parseDeployment,
  proposalCall,
  proposalIdOf,
  propose,
  queueProposal,
  scheduleCouncilChange,
  setAttributionShare,
  setAttributionWeights,
  setChallengeWindow,
  setProtocolFee,
  startDevChain,
  transferToken,
} from '../src/index.js'
import { expectRevert, type Wallet, walletFor } from './helpers.js'

const e = parseEther
// small periods for the test; docs/governance.md gives the realistic defaults
const VOTING_DELAY = 60
const VOTING_PERIOD = 600
const TIMELOCK_DELAY = 300n
const ROUTINE_DELAY = 120
const MEDIUM_DELAY = 1200 // longer than delay + period + timelock, so a veto vote fits in it

let chain: DevChain
let test: ReturnType<typeof createTestClient>
let deployment: Deployment
let gov: GovernanceDeployment
let lender: Wallet // deployer; holds most of the supply, undelegated: the flash-loan pool
let alice: Wallet
let bob: Wallet
let attacker: Wallet
let member: Wallet
let jobMarket: Address
let token: Address
let outDir: string

async function advance(seconds: number | bigint): Promise<void> {
  await test.increaseTime({ seconds: Number(seconds) })
  await test.mine({ blocks: 1 })
}

async function params() {
  return readContract(alice, { address: jobMarket, abi: jobMarketAbi, functionName: 'params' })
}

/** Propose as alice, vote For with alice and bob, queue, wait out the timelock, execute. */
async function passProposal(proposal: Proposal): Promise<bigint> {
  const { proposalId } = await propose(alice, { governor: gov.governor, proposal })
  await advance(VOTING_DELAY + 1)
  await castVote(alice, { governor: gov.governor, proposalId, support: 'for' })
  await castVote(bob, { governor: gov.governor, proposalId, support: 'for' })
  await advance(VOTING_PERIOD + 1)
  const { eta } = await queueProposal(alice, { governor: gov.governor, proposal })
  await advance(eta - (await now()) + 1n)
  await executeProposal(bob, { governor: gov.governor, proposal })
  return proposalId
}

async function now(): Promise<bigint> {
  return readContract(alice, { address: token, abi: openTokenAbi, functionName: 'clock' }).then(BigInt)
}

beforeAll(async () => {
  chain = await startDevChain()
  const [a0, a1, a2, a3, a4] = chain.accounts
  lender = walletFor(chain, a0!)
  alice = walletFor(chain, a1!)
  bob = walletFor(chain, a2!)
  attacker = walletFor(chain, a3!)
  member = walletFor(chain, a4!)
  test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
  deployment = await deployProtocol(lender, { params: { challengeWindow: 600, unbondingDelay: 7n * 86400n } })
  ;({ jobMarket, token } = deployment.addresses)
  outDir = await mkdtemp(join(tmpdir(), 'ocn-gov-'))
  // 1e9 supply; quorum 4 % = 40M. Alice 30M + Bob 20M delegated long before any proposal.
  await transferToken(lender, { token, to: alice.account.address, amount: e('30000000') })
  await transferToken(lender, { token, to: bob.account.address, amount: e('20000000') })
  await delegateVotes(alice, { token, delegatee: alice.account.address })
  await delegateVotes(bob, { token, delegatee: bob.account.address })
  gov = await deployGovernance(lender, {
    deployment,
    governor: {
      votingDelay: VOTING_DELAY,
      votingPeriod: VOTING_PERIOD,
      proposalThreshold: e('1000'),
      quorumPercent: 4,
      timelockDelay: TIMELOCK_DELAY,
    },
    council: {
      challengeWindow: { min: 300n, max: 3600n, cooldown: 3600, delay: ROUTINE_DELAY },
      verifierMinStake: { min: e('10'), max: e('1000'), cooldown: 3600, delay: MEDIUM_DELAY },
    },
    councilMembers: [member.account.address],
    outFile: join(outDir, 'deployment.json'),
  })
  await advance(10)
}, 180_000)

afterAll(async () => {
  await chain?.stop()
  if (outDir !== undefined) await rm(outDir, { recursive: true, force: true })
})

describe('OpenGovernor and timelock', () => {
  it('leaves the deployer without any power over parameters', async () => {
    await expectRevert(setProtocolFee(lender, { jobMarket, protocolFeeBps: 0 }), 'AccessManagedUnauthorized')
    await expectRevert(
      setChallengeWindow(lender, { jobMarket, challengeWindow: 900 }),
      'AccessManagedUnauthorized',
    )
  })

  it('passes a proposal by delegated holders end to end, only after the timelock delay', async () => {
    const proposal: Proposal = {
      calls: [
        proposalCall({ target: jobMarket, abi: jobMarketAbi, functionName: 'setProtocolFee', args: [300] }),
      ],
      description: 'Raise the protocol fee to 3 %',
    }
    const { proposalId, snapshot } = await propose(alice, { governor: gov.governor, proposal })
    expect(proposalId).toBe(proposalIdOf(proposal))
    expect(await getProposalState(alice, { governor: gov.governor, proposalId })).toBe('pending')
    // no voting before the snapshot
    await expectRevert(
      castVote(alice, { governor: gov.governor, proposalId, support: 'for' }),
      'GovernorUnexpectedProposalState',
    )
    await advance(VOTING_DELAY + 1)
    const a = await castVote(alice, { governor: gov.governor, proposalId, support: 'for' })
    const b = await castVote(bob, {
      governor: gov.governor,
      proposalId,
      support: 'for',
      reason: 'fund the treasury',
    })
    expect(a.weight).toBe(e('30000000'))
    expect(b.weight).toBe(e('20000000'))
    await advance(VOTING_PERIOD + 1)
    const status = await getProposalStatus(alice, { governor: gov.governor, proposalId })
    expect(status.state).toBe('succeeded')
    expect(status.snapshot).toBe(snapshot)
    expect(status.quorum).toBe(e('40000000'))
    expect(status.votes.for).toBe(e('50000000'))

    const { eta } = await queueProposal(alice, { governor: gov.governor, proposal })
    expect(await getProposalState(alice, { governor: gov.governor, proposalId })).toBe('queued')
    await expectRevert(
      executeProposal(bob, { governor: gov.governor, proposal }),
      'TimelockUnexpectedOperationState',
    )
    expect((await params()).protocolFeeBps).toBe(250)
    await advance(eta - (await now()) + 1n)
    await executeProposal(bob, { governor: gov.governor, proposal })
    expect(await getProposalState(alice, { governor: gov.governor, proposalId })).toBe('executed')
    expect((await params()).protocolFeeBps).toBe(300)
  })
})

describe('deployGovernance', () => {
  it('refuses invalid settings before sending anything', async () => {
    const err = await deployGovernance(lender, {
      deployment,
      council: { challengeWindow: { min: 10n, max: 2n ** 32n, cooldown: 0, delay: 60 } },
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GovernanceDeploymentError)
    expect((err as GovernanceDeploymentError).code).toBe('DEPLOYMENT')
    expect((err as GovernanceDeploymentError).shortMessage).toContain('council.challengeWindow range')
  })

  it('hands the parameter, model-curator and attribution roles to the timelock only, none to the deployer', async () => {
    const hasRole = async (role: bigint, who: Address) =>
      (
        await readContract(alice, {
          address: deployment.addresses.accessManager,
          abi: accessManagerAbi,
          functionName: 'hasRole',
          args: [role, who],
        })
      )[0]
    const deployer = lender.account.address
    for (const role of [
      ProtocolRole.admin,
      ProtocolRole.parameters,
      ProtocolRole.modelCurator,
      ProtocolRole.attribution,
    ]) {
      expect(await hasRole(role, gov.timelock)).toBe(true)
      expect(await hasRole(role, deployer)).toBe(false)
      // the council acts only through its bounded OPERATIONS role
      expect(await hasRole(role, gov.council)).toBe(false)
    }
    expect(await hasRole(gov.roles.operations, gov.council)).toBe(true)
    // the share setter and setWeights are structural: the deployer's calls now fail
    await expectRevert(
      setAttributionShare(lender, { jobMarket, attributionShareBps: 0 }),
      'AccessManagedUnauthorized',
    )
    await expectRevert(
      setAttributionWeights(lender, {
        attributionPool: deployment.addresses.attributionPool!,
        modelId: keccak256(toHex('any model')),
        weightsRoot: keccak256(toHex('any root')),
        resultHash: keccak256(toHex('any result')),
      }),
      'AccessManagedUnauthorized',
    )
  })

  it('records its addresses in the deployment file; files without them still parse', async () => {
    const written = parseDeployment(await readFile(join(outDir, 'deployment.json'), 'utf8'))
    expect(written.governance).toEqual({
      governor: gov.governor,
      timelock: gov.timelock,
      council: gov.council,
    })
    expect(written.addresses).toEqual(deployment.addresses)
    const older = JSON.parse(await readFile(join(outDir, 'deployment.json'), 'utf8'))
    delete older.governance
    expect(parseDeployment(JSON.stringify(older)).governance).toBeUndefined()
    older.governance = { governor: gov.governor, timelock: 'nope', council: gov.council }
    expect(() => parseDeployment(JSON.stringify(older))).toThrow('governance.timelock is not an address')
  })

  it('cannot run a second time: the deployer is no longer the admin', async () => {
    const err = await deployGovernance(lender, { deployment }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GovernanceDeploymentError)
    expect((err as GovernanceDeploymentError).shortMessage).toContain('not the AccessManager admin')
  })
})

describe('flash-loan attack', () => {
  const evil = (attackerAddress: Address): Proposal => ({
    calls: [
      proposalCall({
        target: jobMarket,
        abi: jobMarketAbi,
        functionName: 'setTreasury',
        args: [attackerAddress],
      }),
    ],
    description: `Move the treasury to ${attackerAddress}`,
  })
  const loan = e('500000000') // half the supply, far above quorum and everyone else's votes

  it('borrowing, voting, proposing and repaying inside one block counts for nothing', async () => {
    // a legitimate proposal is open for voting when the attacker strikes
    const honest: Proposal = {
      calls: [
        proposalCall({ target: jobMarket, abi: jobMarketAbi, functionName: 'setProtocolFee', args: [200] }),
      ],
      description: 'Lower the protocol fee to 2 %',
    }
    const { proposalId } = await propose(alice, { governor: gov.governor, proposal: honest })
    await advance(VOTING_DELAY + 1)

    const send = (
      w: Wallet,
      address: Address,
      abi: typeof openTokenAbi | typeof openGovernorAbi,
      functionName: string,
      args: readonly unknown[],
    ) =>
      writeContract(w, {
        address,
        abi,
        functionName,
        args,
        account: w.account,
        chain: chain.chain,
        gas: 1_000_000n,
      } as Parameters<typeof writeContract>[1])
    const bad = evil(attacker.account.address)
    const a = attacker.account.address
    await test.setAutomine(false)
    let hashes: Hex[]
    try {
      hashes = [
        await send(lender, token, openTokenAbi, 'transfer', [a, loan]),
        await send(attacker, token, openTokenAbi, 'delegate', [a]),
        await send(attacker, gov.governor, openGovernorAbi, 'castVote', [proposalId, 0]),
        await send(attacker, gov.governor, openGovernorAbi, 'propose', [
          bad.calls.map((c) => c.target),
          bad.calls.map((c) => c.value),
          bad.calls.map((c) => c.data),
          bad.description,
        ]),
        await send(attacker, token, openTokenAbi, 'transfer', [lender.account.address, loan]),
      ]
      await test.mine({ blocks: 1 })
    } finally {
      await test.setAutomine(true)
    }
    const receipts = await Promise.all(hashes.map((hash) => getTransactionReceipt(alice, { hash })))
    expect(new Set(receipts.map((r) => r.blockNumber)).size).toBe(1) // all in one block
    const [transfer, delegate, vote, proposeTx, repay] = receipts
    expect(transfer!.status).toBe('success')
    expect(delegate!.status).toBe('success')
    expect(repay!.status).toBe('success')
    // the vote lands, with weight zero: the borrowed tokens did not exist for it at the snapshot
    expect(vote!.status).toBe('success')
    const [cast] = parseEventLogs({ abi: openGovernorAbi, eventName: 'VoteCast', logs: vote!.logs })
    expect(cast!.args.voter).toBe(a)
    expect(cast!.args.weight).toBe(0n)
    // proposing needs votes one second before the proposal: none
    expect(proposeTx!.status).toBe('reverted')
    const status = await getProposalStatus(alice, { governor: gov.governor, proposalId })
    expect(status.votes.against).toBe(0n)
    // the honest proposal goes on untouched
    await castVote(alice, { governor: gov.governor, proposalId, support: 'for' })
    await castVote(bob, { governor: gov.governor, proposalId, support: 'for' })
    await advance(VOTING_PERIOD + 1)
    expect(await getProposalState(alice, { governor: gov.governor, proposalId })).toBe('succeeded')
  })

  it('a loan held across the proposal but repaid before the snapshot cannot pass it either', async () => {
    const a = attacker.account.address
    await transferToken(lender, { token, to: a, amount: loan })
    await delegateVotes(attacker, { token, delegatee: a })
    await advance(1)
    expect(await getVotes(alice, { token, account: a })).toBe(loan)
    const bad = evil(a)
    // with 500M votes the attacker clears the proposal threshold...
    const { proposalId, snapshot } = await propose(attacker, { governor: gov.governor, proposal: bad })
    // ...but repays within the voting delay (a day by default), as a borrower must
    await transferToken(attacker, { token, to: lender.account.address, amount: loan })
    await advance(VOTING_DELAY + 1)
    expect(await getVotes(alice, { token, account: a, timepoint: snapshot })).toBe(0n)
    const { weight } = await castVote(attacker, { governor: gov.governor, proposalId, support: 'for' })
    expect(weight).toBe(0n)
    await advance(VOTING_PERIOD + 1)
    expect(await getProposalState(alice, { governor: gov.governor, proposalId })).toBe('defeated')
    await expectRevert(
      queueProposal(attacker, { governor: gov.governor, proposal: bad }),
      'GovernorUnexpectedProposalState',
    )
    const treasury = await readContract(alice, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'treasury',
    })
    expect(treasury).not.toBe(a)
  })
})

describe('council', () => {
  const council = () => gov.council

  it('executes a change within range only after its delay', async () => {
    const { id, eta } = await scheduleCouncilChange(member, {
      council: council(),
      jobMarket,
      parameter: 'challengeWindow',
      value: 900n,
    })
    expect((await getCouncilChange(alice, { council: council(), id })).state).toBe('scheduled')
    await expectRevert(executeCouncilChange(alice, { council: council(), id }), 'CouncilTooEarly')
    await advance(eta - (await now()) + 1n)
    await executeCouncilChange(alice, { council: council(), id })
    expect((await params()).challengeWindow).toBe(900)
    expect((await getCouncilChange(alice, { council: council(), id })).state).toBe('executed')
  })

  it('reverts outside the range, too soon after the last change, and for anyone but a member', async () => {
    await expectRevert(
      scheduleCouncilChange(member, {
        council: council(),
        jobMarket,
        parameter: 'verifierMinStake',
        value: e('1001'),
      }),
      'CouncilValueOutOfRange',
    )
    await expectRevert(
      scheduleCouncilChange(member, {
        council: council(),
        jobMarket,
        parameter: 'verifierMinStake',
        value: 0n,
      }),
      'CouncilValueOutOfRange',
    )
    // the challenge window changed less than a cooldown ago
    await expectRevert(
      scheduleCouncilChange(member, {
        council: council(),
        jobMarket,
        parameter: 'challengeWindow',
        value: 1200n,
      }),
      'CouncilCooldown',
    )
    await expectRevert(
      scheduleCouncilChange(attacker, {
        council: council(),
        jobMarket,
        parameter: 'verifierMinStake',
        value: e('50'),
      }),
      'CouncilOnlyMember',
    )
    // the fee was never delegated to the council: full vote only
    await expectRevert(
      scheduleCouncilChange(member, {
        council: council(),
        target: jobMarket,
        selector: toFunctionSelector('setProtocolFee(uint16)'),
        value: 0n,
      }),
      'CouncilParameterNotDelegated',
    )
    // a member cannot veto (or re-bound) by itself
    await expectRevert(
      writeContract(member, {
        address: council(),
        abi: (await import('../src/index.js')).councilAbi,
        functionName: 'veto',
        args: [0n],
        account: member.account,
        chain: chain.chain,
      }).catch(async (err) => {
        throw (await import('../src/index.js')).toContractsClientError(err, 'veto')
      }),
      'CouncilOnlyGovernance',
    )
  })

  it('a change vetoed by governance within its delay can never execute', async () => {
    const { id, eta } = await scheduleCouncilChange(member, {
      council: council(),
      jobMarket,
      parameter: 'verifierMinStake',
      value: e('900'),
    })
    await passProposal({
      calls: [councilVetoCall({ council: council(), id })],
      description: `Veto council change ${id}`,
    })
    expect(await now()).toBeLessThan(eta) // the vote fit inside the veto window
    expect((await getCouncilChange(alice, { council: council(), id })).state).toBe('vetoed')
    await advance(eta - (await now()) + 1n)
    await expectRevert(executeCouncilChange(alice, { council: council(), id }), 'CouncilUnexpectedState')
    const stake = await readContract(alice, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'verifierMinStake',
    })
    expect(stake).toBe(e('100'))
  })
  it('obeys bounds narrowed by a vote and stops when governance revokes its role', async () => {
    await advance(3600) // the vetoed change above started the parameter's cooldown
    const { id, eta } = await scheduleCouncilChange(member, {
      council: council(),
      jobMarket,
      parameter: 'verifierMinStake',
      value: e('50'),
    })
    await expectRevert(
      scheduleCouncilChange(member, {
        council: council(),
        jobMarket,
        parameter: 'verifierMinStake',
        value: e('40'),
      }),
      'CouncilChangePending',
    )
    // structural tier: one vote narrows the range and takes the council's AccessManager role away
    await passProposal({
      calls: [
        councilBoundsCall({
          council: council(),
          jobMarket,
          parameter: 'verifierMinStake',
          bounds: { min: e('10'), max: e('20'), cooldown: 3600, delay: MEDIUM_DELAY },
        }),
        proposalCall({
          target: deployment.addresses.accessManager,
          abi: accessManagerAbi,
          functionName: 'revokeRole',
          args: [gov.roles.operations, council()],
        }),
      ],
      description: 'Cap the verifier minimum stake at 20 OPEN and suspend the council',
    })
    expect(
      await getCouncilBounds(alice, { council: council(), jobMarket, parameter: 'verifierMinStake' }),
    ).toEqual({
      min: e('10'),
      max: e('20'),
      cooldown: 3600,
      delay: MEDIUM_DELAY,
      enabled: true,
    })
    // the waiting change, due now, is out of range
    if ((await now()) <= eta) await advance(eta - (await now()) + 1n)
    await expectRevert(executeCouncilChange(alice, { council: council(), id }), 'CouncilValueOutOfRange')
    // and an in-range change fails at the AccessManager
    await advance(3600)
    const next = await scheduleCouncilChange(member, {
      council: council(),
      jobMarket,
      parameter: 'challengeWindow',
      value: 1200n,
    })
    await advance(ROUTINE_DELAY + 1)
    await expectRevert(
      executeCouncilChange(alice, { council: council(), id: next.id }),
      'AccessManagedUnauthorized',
    )
    expect((await params()).challengeWindow).toBe(900)
    const minStake = await readContract(alice, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'verifierMinStake',
    })
    expect(minStake).toBe(e('100'))
  })
})
