/**
 * Typed actions for OpenGovernor (delegate, propose, vote, queue, execute, read state) and the
 * Council (schedule, cancel, execute; veto and bounds are governance proposals, built with
 * `councilVetoCall` / `councilBoundsCall`). Writes simulate first, so a revert arrives as a
 * ContractRevertError with its Solidity error name before any gas is spent.
 */
import {
  type Abi,
  type Address,
  type ContractFunctionArgs,
  type ContractFunctionName,
  encodeAbiParameters,
  encodeFunctionData,
  type Hex,
  keccak256,
  parseEventLogs,
  toFunctionSelector,
  toHex,
} from 'viem'
import { readContract, simulateContract } from 'viem/actions'
import { councilAbi, openGovernorAbi, openTokenAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolReadClient, ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { type CouncilParameter, councilSetters } from './deploy.js'
import { GovernanceArgumentError, governanceErrorsAbi } from './errors.js'
import type { CouncilBounds } from './options.js'

const governorWithErrors = [...openGovernorAbi, ...governanceErrorsAbi] as const
const councilWithErrors = [...councilAbi, ...governanceErrorsAbi] as const

/** One call a proposal makes from the timelock. */
export interface ProposalCall {
  target: Address
  value: bigint
  data: Hex
}

/** A proposal as the governor identifies it: its calls and its exact description. */
export interface Proposal {
  calls: readonly ProposalCall[]
  description: string
}

/** Encodes a typed contract call for a proposal (the ABI types `functionName` and `args`). */
export function proposalCall<
  const abi extends Abi,
  functionName extends ContractFunctionName<abi, 'nonpayable' | 'payable'>,
>(p: {
  target: Address
  abi: abi
  functionName: functionName
  args: ContractFunctionArgs<abi, 'nonpayable' | 'payable', functionName>
  value?: bigint
}): ProposalCall {
  const data = encodeFunctionData({ abi: p.abi, functionName: p.functionName, args: p.args } as Parameters<
    typeof encodeFunctionData
  >[0])
  return { target: p.target, value: p.value ?? 0n, data }
}

function proposalArgs(proposal: Proposal) {
  if (proposal.calls.length === 0) throw new GovernanceArgumentError('a proposal needs at least one call')
  return {
    targets: proposal.calls.map((c) => c.target),
    values: proposal.calls.map((c) => c.value),
    calldatas: proposal.calls.map((c) => c.data),
    descriptionHash: keccak256(toHex(proposal.description)),
  }
}

/** The governor's proposal id, computed locally (same as `hashProposal` on-chain). */
export function proposalIdOf(proposal: Proposal): bigint {
  const a = proposalArgs(proposal)
  return BigInt(
    keccak256(
      encodeAbiParameters(
        [{ type: 'address[]' }, { type: 'uint256[]' }, { type: 'bytes[]' }, { type: 'bytes32' }],
        [a.targets, a.values, a.calldatas, a.descriptionHash],
      ),
    ),
  )
}

/** Governor.ProposalState, by index. */
export const proposalStates = [
  'pending',
  'active',
  'canceled',
  'defeated',
  'succeeded',
  'queued',
  'expired',
  'executed',
] as const
export type ProposalState = (typeof proposalStates)[number]

export const VoteSupport = { against: 0, for: 1, abstain: 2 } as const
export type VoteSupport = keyof typeof VoteSupport

// ---- votes ----

export interface DelegateVotesParameters extends WriteOptions {
  token: Address
  delegatee: Address
}

/** Delegates the caller's OPEN voting power (to itself to vote directly). Undelegated OPEN has none. */
export async function delegateVotes(
  client: ProtocolWalletClient,
  { token, delegatee, gas }: DelegateVotesParameters,
): Promise<WriteResult> {
  const { request } = await simulate('delegate', () =>
    simulateContract(client, {
      address: token,
      abi: openTokenAbi,
      functionName: 'delegate',
      args: [delegatee],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'delegate')
}

/** Voting power of `account` now, or at a past `timepoint` (seconds) when given. */
export async function getVotes(
  client: ProtocolReadClient,
  { token, account, timepoint }: { token: Address; account: Address; timepoint?: bigint },
): Promise<bigint> {
  return simulate('getVotes', () =>
    timepoint === undefined
      ? readContract(client, { address: token, abi: openTokenAbi, functionName: 'getVotes', args: [account] })
      : readContract(client, {
          address: token,
          abi: openTokenAbi,
          functionName: 'getPastVotes',
          args: [account, timepoint],
        }),
  )
}

// ---- proposals ----

export interface ProposeParameters extends WriteOptions {
  governor: Address
  proposal: Proposal
}

export interface ProposeReturnType extends WriteResult {
  proposalId: bigint
  /** votes are read at this timepoint (seconds); voting opens right after it */
  snapshot: bigint
  /** voting closes at this timepoint */
  deadline: bigint
}

export async function propose(
  client: ProtocolWalletClient,
  { governor, proposal, gas }: ProposeParameters,
): Promise<ProposeReturnType> {
  const a = proposalArgs(proposal)
  const { request } = await simulate('propose', () =>
    simulateContract(client, {
      address: governor,
      abi: governorWithErrors,
      functionName: 'propose',
      args: [a.targets, a.values, a.calldatas, proposal.description],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'propose')
  const [created] = parseEventLogs({
    abi: openGovernorAbi,
    eventName: 'ProposalCreated',
    logs: result.receipt.logs,
  })
  if (!created) throw new GovernanceArgumentError('propose: no ProposalCreated event in the receipt')
  return {
    ...result,
    proposalId: created.args.proposalId,
    snapshot: created.args.voteStart,
    deadline: created.args.voteEnd,
  }
}

export interface CastVoteParameters extends WriteOptions {
  governor: Address
  proposalId: bigint
  support: VoteSupport
  reason?: string
}

export interface CastVoteReturnType extends WriteResult {
  /** the voting power counted: the voter's delegated OPEN at the proposal's snapshot */
  weight: bigint
}

export async function castVote(
  client: ProtocolWalletClient,
  { governor, proposalId, support, reason, gas }: CastVoteParameters,
): Promise<CastVoteReturnType> {
  const gasOption = gas === undefined ? {} : { gas }
  const request =
    reason === undefined
      ? (
          await simulate('castVote', () =>
            simulateContract(client, {
              address: governor,
              abi: governorWithErrors,
              functionName: 'castVote',
              args: [proposalId, VoteSupport[support]],
              account: client.account,
              ...gasOption,
            }),
          )
        ).request
      : (
          await simulate('castVoteWithReason', () =>
            simulateContract(client, {
              address: governor,
              abi: governorWithErrors,
              functionName: 'castVoteWithReason',
              args: [proposalId, VoteSupport[support], reason],
              account: client.account,
              ...gasOption,
            }),
          )
        ).request
  const result = await submit(client, request, 'castVote')
  const [cast] = parseEventLogs({ abi: openGovernorAbi, eventName: 'VoteCast', logs: result.receipt.logs })
  if (!cast) throw new GovernanceArgumentError('castVote: no VoteCast event in the receipt')
  return { ...result, weight: cast.args.weight }
}

export interface QueueProposalParameters extends WriteOptions {
  governor: Address
  proposal: Proposal
}

export interface QueueProposalReturnType extends WriteResult {
  /** earliest execution time (seconds) */
  eta: bigint
}

/** Queues a succeeded proposal in the timelock. */
export async function queueProposal(
  client: ProtocolWalletClient,
  { governor, proposal, gas }: QueueProposalParameters,
): Promise<QueueProposalReturnType> {
  const a = proposalArgs(proposal)
  const { request } = await simulate('queue', () =>
    simulateContract(client, {
      address: governor,
      abi: governorWithErrors,
      functionName: 'queue',
      args: [a.targets, a.values, a.calldatas, a.descriptionHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'queue')
  const [queued] = parseEventLogs({
    abi: openGovernorAbi,
    eventName: 'ProposalQueued',
    logs: result.receipt.logs,
  })
  if (!queued) throw new GovernanceArgumentError('queue: no ProposalQueued event in the receipt')
  return { ...result, eta: queued.args.etaSeconds }
}

export type ExecuteProposalParameters = QueueProposalParameters

/** Executes a queued proposal once the timelock delay has passed; anyone may call. */
export async function executeProposal(
  client: ProtocolWalletClient,
  { governor, proposal, gas }: ExecuteProposalParameters,
): Promise<WriteResult> {
  const a = proposalArgs(proposal)
  const value = proposal.calls.reduce((sum, c) => sum + c.value, 0n)
  const { request } = await simulate('execute', () =>
    simulateContract(client, {
      address: governor,
      abi: governorWithErrors,
      functionName: 'execute',
      args: [a.targets, a.values, a.calldatas, a.descriptionHash],
      value,
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'execute')
}

export async function getProposalState(
  client: ProtocolReadClient,
  { governor, proposalId }: { governor: Address; proposalId: bigint },
): Promise<ProposalState> {
  const index = await simulate('state', () =>
    readContract(client, {
      address: governor,
      abi: governorWithErrors,
      functionName: 'state',
      args: [proposalId],
    }),
  )
  const state = proposalStates[index]
  if (state === undefined) throw new GovernanceArgumentError(`unknown proposal state ${index}`)
  return state
}

export interface ProposalStatus {
  proposalId: bigint
  state: ProposalState
  snapshot: bigint
  deadline: bigint
  /** earliest execution time once queued, 0 before */
  eta: bigint
  proposer: Address
  votes: { against: bigint; for: bigint; abstain: bigint }
  /** For + Abstain votes needed, from the total supply at the snapshot */
  quorum: bigint
}

/** Everything `ocn gov status` shows about one proposal. */
export async function getProposalStatus(
  client: ProtocolReadClient,
  { governor, proposalId }: { governor: Address; proposalId: bigint },
): Promise<ProposalStatus> {
  const read = (functionName: 'proposalSnapshot' | 'proposalDeadline' | 'proposalEta') =>
    simulate(functionName, () =>
      readContract(client, { address: governor, abi: openGovernorAbi, functionName, args: [proposalId] }),
    )
  const [state, snapshot, deadline, eta, proposer, votes] = await Promise.all([
    getProposalState(client, { governor, proposalId }),
    read('proposalSnapshot'),
    read('proposalDeadline'),
    read('proposalEta'),
    simulate('proposalProposer', () =>
      readContract(client, {
        address: governor,
        abi: openGovernorAbi,
        functionName: 'proposalProposer',
        args: [proposalId],
      }),
    ),
    simulate('proposalVotes', () =>
      readContract(client, {
        address: governor,
        abi: openGovernorAbi,
        functionName: 'proposalVotes',
        args: [proposalId],
      }),
    ),
  ])
  const quorum = await simulate('quorum', () =>
    readContract(client, {
      address: governor,
      abi: openGovernorAbi,
      functionName: 'quorum',
      args: [snapshot],
    }),
  ).catch(() => 0n) // the snapshot may still be in the future (pending): no quorum yet
  return {
    proposalId,
    state,
    snapshot,
    deadline,
    eta,
    proposer,
    votes: { against: votes[0], for: votes[1], abstain: votes[2] },
    quorum,
  }
}

// ---- council ----

/** Council.ChangeState, by index. */
export const councilChangeStates = ['none', 'scheduled', 'executed', 'vetoed', 'cancelled'] as const
export type CouncilChangeState = (typeof councilChangeStates)[number]

/** A council-delegated parameter: a known JobMarket setter by name, or any target and selector. */
export type CouncilTarget =
  | { jobMarket: Address; parameter: CouncilParameter }
  | { target: Address; selector: Hex }

function resolveTarget(t: CouncilTarget): { target: Address; selector: Hex } {
  return 'parameter' in t
    ? { target: t.jobMarket, selector: toFunctionSelector(councilSetters[t.parameter]) }
    : { target: t.target, selector: t.selector }
}

export type ScheduleCouncilChangeParameters = WriteOptions &
  CouncilTarget & {
    council: Address
    value: bigint
  }

export interface ScheduleCouncilChangeReturnType extends WriteResult {
  id: bigint
  /** earliest execution time (seconds); governance may veto until then */
  eta: bigint
}

/** A council member schedules a bounded parameter change. */
export async function scheduleCouncilChange(
  client: ProtocolWalletClient,
  parameters: ScheduleCouncilChangeParameters,
): Promise<ScheduleCouncilChangeReturnType> {
  const { council, value, gas } = parameters
  const { target, selector } = resolveTarget(parameters)
  const { request } = await simulate('schedule', () =>
    simulateContract(client, {
      address: council,
      abi: councilWithErrors,
      functionName: 'schedule',
      args: [target, selector, value],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'schedule')
  const [scheduled] = parseEventLogs({
    abi: councilAbi,
    eventName: 'ChangeScheduled',
    logs: result.receipt.logs,
  })
  if (!scheduled) throw new GovernanceArgumentError('schedule: no ChangeScheduled event in the receipt')
  return { ...result, id: scheduled.args.id, eta: scheduled.args.eta }
}

async function councilWrite(
  client: ProtocolWalletClient,
  functionName: 'execute' | 'cancel',
  council: Address,
  id: bigint,
  gas: bigint | undefined,
): Promise<WriteResult> {
  const { request } = await simulate(functionName, () =>
    simulateContract(client, {
      address: council,
      abi: councilWithErrors,
      functionName,
      args: [id],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, functionName)
}

/** Applies a scheduled council change after its delay; anyone may call. */
export function executeCouncilChange(
  client: ProtocolWalletClient,
  { council, id, gas }: { council: Address; id: bigint } & WriteOptions,
): Promise<WriteResult> {
  return councilWrite(client, 'execute', council, id, gas)
}

/** A council member withdraws a scheduled change (it still counts against the cooldown). */
export function cancelCouncilChange(
  client: ProtocolWalletClient,
  { council, id, gas }: { council: Address; id: bigint } & WriteOptions,
): Promise<WriteResult> {
  return councilWrite(client, 'cancel', council, id, gas)
}

/** The proposal call by which governance vetoes a scheduled council change. */
export function councilVetoCall({ council, id }: { council: Address; id: bigint }): ProposalCall {
  return proposalCall({ target: council, abi: councilAbi, functionName: 'veto', args: [id] })
}

/** The proposal call by which governance (re)sets the bounds of a council-delegated parameter. */
export function councilBoundsCall(
  p: CouncilTarget & { council: Address; bounds: CouncilBounds },
): ProposalCall {
  const { target, selector } = resolveTarget(p)
  return proposalCall({
    target: p.council,
    abi: councilAbi,
    functionName: 'setBounds',
    args: [target, selector, p.bounds.min, p.bounds.max, p.bounds.cooldown, p.bounds.delay],
  })
}

/** The proposal call by which governance adds or removes a council member. */
export function councilMemberCall({
  council,
  member,
  isMember,
}: {
  council: Address
  member: Address
  isMember: boolean
}): ProposalCall {
  return proposalCall({
    target: council,
    abi: councilAbi,
    functionName: 'setMember',
    args: [member, isMember],
  })
}

export interface CouncilChange {
  id: bigint
  target: Address
  selector: Hex
  value: bigint
  eta: bigint
  state: CouncilChangeState
  proposer: Address
}

export async function getCouncilChange(
  client: ProtocolReadClient,
  { council, id }: { council: Address; id: bigint },
): Promise<CouncilChange> {
  const c = await simulate('getChange', () =>
    readContract(client, { address: council, abi: councilAbi, functionName: 'getChange', args: [id] }),
  )
  const state = councilChangeStates[c.state]
  if (state === undefined) throw new GovernanceArgumentError(`unknown council change state ${c.state}`)
  return {
    id,
    target: c.target,
    selector: c.selector,
    value: c.value,
    eta: c.eta,
    state,
    proposer: c.proposer,
  }
}

export async function getCouncilBounds(
  client: ProtocolReadClient,
  p: CouncilTarget & { council: Address },
): Promise<(CouncilBounds & { enabled: boolean }) | undefined> {
  const { target, selector } = resolveTarget(p)
  const b = await simulate('boundsOf', () =>
    readContract(client, {
      address: p.council,
      abi: councilAbi,
      functionName: 'boundsOf',
      args: [target, selector],
    }),
  )
  if (!b.enabled) return undefined
  return { min: b.min, max: b.max, cooldown: b.cooldown, delay: b.delay, enabled: true }
}
