/**
 * `ocn gov delegate|propose|vote|queue|execute|status`: the OpenGovernor from the command line.
 * Every state precondition is checked before a transaction, so a vote after the deadline or an
 * execute inside the timelock delay ends in an error that says when it would work, not a revert.
 */
import {
  ContractRevertError,
  castVote,
  delegateVotes,
  executeProposal,
  getProposalStatus,
  getVotes,
  type ProposalStatus,
  propose,
  queueProposal,
  VoteSupport,
} from '@ocn/contracts-client'
import { readNodeKeyInfo } from '@ocn/node'
import { type Address, isAddress } from 'viem'
import { getBlock } from 'viem/actions'
import type { Command, CommandContext, CommandResult } from '../command.js'
import { loadConfigFor } from '../context.js'
import { loadKeysFor, passphraseFlag } from './account.js'
import { type ChainAccess, formatOpen, openChain, toChainCommandError } from './chain-access.js'
import {
  callsFor,
  formatChange,
  GovCommandError,
  governanceOf,
  isoTime,
  loadProposal,
  parseParameterChange,
  parseProposalId,
  saveProposal,
} from './gov-proposals.js'

interface GovAccess {
  access: ChainAccess
  governor: Address
  dataDir: string
}

/** The chain and the node account, without the governor (delegating needs only the token). */
async function openAccount(
  context: CommandContext,
  sign: boolean,
): Promise<Omit<GovAccess, 'governor'> & { deploymentFile: string }> {
  const { config } = await loadConfigFor(context)
  // Reading needs only the public address: encrypted keys stay sealed.
  const account = sign
    ? (await loadKeysFor(context, config.dataDir)).account
    : ((await readNodeKeyInfo(config.dataDir)).address as Address)
  const access = await openChain(config, account)
  return { access, dataDir: config.dataDir, deploymentFile: config.chain.deploymentFile }
}

async function openGov(context: CommandContext, sign: boolean): Promise<GovAccess> {
  const { access, dataDir, deploymentFile } = await openAccount(context, sign)
  const { governor } = governanceOf(access.deployment, deploymentFile)
  return { access, governor, dataDir }
}

/** Turns governor and timelock reverts into what the user should do. */
function toGovError(cause: unknown, access: ChainAccess, proposalId?: bigint): Error {
  if (cause instanceof ContractRevertError) {
    const id = proposalId === undefined ? 'the proposal' : `proposal ${proposalId}`
    switch (cause.errorName) {
      case 'GovernorNonexistentProposal':
        return new GovCommandError('GOV_PROPOSAL_UNKNOWN', `${id} does not exist on this governor`, { cause })
      case 'GovernorAlreadyCastVote':
        return new GovCommandError('GOV_ALREADY_VOTED', `${access.address} has already voted on ${id}`, {
          cause,
        })
      case 'GovernorInsufficientProposerVotes':
        return new GovCommandError(
          'GOV_BELOW_THRESHOLD',
          `${access.address} has ${formatOpen((cause.args[1] as bigint | undefined) ?? 0n)} of votes, the proposal threshold is ${formatOpen((cause.args[2] as bigint | undefined) ?? 0n)}`,
          { cause, details: 'delegate OPEN to this account (`ocn gov delegate`) a block before proposing' },
        )
      case 'TimelockUnexpectedOperationState':
        return new GovCommandError('GOV_NOT_READY', `${id} is not ready to execute in the timelock`, {
          cause,
          details: 'wait until its earliest execution time (`ocn gov status <id>`)',
        })
      case 'GovernorUnexpectedProposalState':
        return new GovCommandError('GOV_NOT_EXECUTABLE', `${id} is not in a state that allows this`, {
          cause,
          details: 'see `ocn gov status <id>`',
        })
    }
  }
  return toChainCommandError(cause, access)
}

async function statusOf(g: GovAccess, proposalId: bigint): Promise<ProposalStatus> {
  try {
    return await getProposalStatus(g.access.client, { governor: g.governor, proposalId })
  } catch (cause) {
    throw toGovError(cause, g.access, proposalId)
  }
}

async function chainTime(g: GovAccess): Promise<bigint> {
  try {
    return (await getBlock(g.access.client, { blockTag: 'latest' })).timestamp
  } catch (cause) {
    throw toChainCommandError(cause, g.access)
  }
}

function statusJson(s: ProposalStatus): Record<string, unknown> {
  return {
    proposalId: s.proposalId.toString(),
    state: s.state,
    proposer: s.proposer,
    snapshot: s.snapshot.toString(),
    deadline: s.deadline.toString(),
    eta: s.eta.toString(),
    votes: {
      for: s.votes.for.toString(),
      against: s.votes.against.toString(),
      abstain: s.votes.abstain.toString(),
    },
    quorum: s.quorum.toString(),
    quorumReached: s.quorum > 0n && s.votes.for + s.votes.abstain >= s.quorum,
  }
}

function statusText(s: ProposalStatus): string {
  const counted = s.votes.for + s.votes.abstain
  const lines = [
    `proposal ${s.proposalId}`,
    `  state      ${s.state}`,
    `  proposer   ${s.proposer}`,
    `  votes      for ${formatOpen(s.votes.for)}, against ${formatOpen(s.votes.against)}, abstain ${formatOpen(s.votes.abstain)}`,
    s.quorum === 0n
      ? '  quorum     fixed at the snapshot'
      : `  quorum     ${formatOpen(counted)} of ${formatOpen(s.quorum)} (for + abstain)${counted >= s.quorum ? ', reached' : ''}`,
    `  snapshot   ${isoTime(s.snapshot)} (voting opens after it)`,
    `  deadline   ${isoTime(s.deadline)}`,
  ]
  if (s.eta > 0n) lines.push(`  executable ${isoTime(s.eta)}`)
  return lines.join('\n')
}

const supports = Object.keys(VoteSupport) as VoteSupport[]

export const govDelegateCommand: Command = {
  path: ['gov', 'delegate'],
  summary: "delegate the node account's OPEN votes (to itself by default); undelegated OPEN cannot vote",
  usage: 'ocn gov delegate [address] [--passphrase-file <file>] [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: { ...passphraseFlag },
  async run(context) {
    const target = context.positionals[0]
    if (target !== undefined && !isAddress(target)) {
      throw new GovCommandError('GOV_INVALID_ARGUMENT', `"${target}" is not an address`)
    }
    // Votes are OPEN's, not the governor's: holders may delegate before governance exists,
    // and must have delegated before a proposal's snapshot anyway.
    const g = await openAccount(context, true)
    const delegatee = (target ?? g.access.address) as Address
    const { token } = g.access.deployment.addresses
    try {
      const { hash } = await delegateVotes(g.access.client, { token, delegatee })
      const votes = await getVotes(g.access.client, { token, account: delegatee })
      return {
        json: { delegator: g.access.address, delegatee, votes: votes.toString(), transaction: hash },
        text: `Delegated the votes of ${g.access.address} to ${delegatee}: it now has ${formatOpen(votes)} of votes (transaction ${hash})\nVotes count from proposals made after this block.`,
      }
    } catch (cause) {
      throw toGovError(cause, g.access)
    }
  },
}

export const govProposeCommand: Command = {
  path: ['gov', 'propose'],
  summary: 'propose protocol parameter changes to governance',
  usage: 'ocn gov propose --set <param>=<value> [--set ...] -m <description> [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {
    set: {
      type: 'string',
      multiple: true,
      value: '<param>=<value>',
      description:
        'a parameter change: protocolFeeBps, cheatSlashBps, noShowSlashBps, challengerRewardBps, attributionShareBps (bps), challengeWindow, unbondingDelay (seconds), verifierMinStake (OPEN), treasury (address)',
    },
    message: { type: 'string', short: 'm', value: '<text>', description: 'the proposal description' },
    ...passphraseFlag,
  },
  async run(context) {
    const sets = (context.flags.set as string[] | undefined) ?? []
    if (sets.length === 0) {
      throw new GovCommandError('GOV_INVALID_ARGUMENT', 'a proposal needs at least one --set <param>=<value>')
    }
    const description = context.flags.message
    if (typeof description !== 'string' || description.trim() === '') {
      throw new GovCommandError('GOV_INVALID_ARGUMENT', 'a proposal needs a description: -m "<why>"')
    }
    const changes = sets.map(parseParameterChange)
    const g = await openGov(context, true)
    try {
      const calls = await callsFor(g.access, changes)
      const proposal = { calls, description }
      const created = await propose(g.access.client, { governor: g.governor, proposal })
      const file = await saveProposal(g.dataDir, {
        proposalId: created.proposalId.toString(),
        chainId: g.access.chainId,
        governor: g.governor,
        description,
        calls: calls.map((c) => ({ target: c.target, value: c.value.toString(), data: c.data })),
        changes,
      })
      return {
        json: {
          proposalId: created.proposalId.toString(),
          snapshot: created.snapshot.toString(),
          deadline: created.deadline.toString(),
          changes,
          transaction: created.hash,
          savedTo: file,
        },
        text: [
          `Proposed ${created.proposalId}`,
          ...changes.map((c) => `  ${formatChange(c)}`),
          `  votes counted at ${isoTime(created.snapshot)}; voting closes ${isoTime(created.deadline)}`,
          `  (transaction ${created.hash}; calls saved to ${file})`,
        ].join('\n'),
      }
    } catch (cause) {
      throw toGovError(cause, g.access)
    }
  },
}

export const govVoteCommand: Command = {
  path: ['gov', 'vote'],
  summary: 'vote for, against or abstain on a proposal with the votes delegated at its snapshot',
  usage: 'ocn gov vote <id> for|against|abstain [--reason <text>] [config flags]',
  configFlags: true,
  maxPositionals: 2,
  flags: {
    reason: { type: 'string', value: '<text>', description: 'a reason recorded on-chain with the vote' },
    ...passphraseFlag,
  },
  async run(context) {
    const proposalId = parseProposalId(context.positionals[0])
    const support = context.positionals[1] as VoteSupport | undefined
    if (support === undefined || !supports.includes(support)) {
      throw new GovCommandError('GOV_INVALID_ARGUMENT', `the vote must be one of ${supports.join(', ')}`, {
        details: `usage: ${govVoteCommand.usage}`,
      })
    }
    const g = await openGov(context, true)
    const status = await statusOf(g, proposalId)
    if (status.state === 'pending') {
      throw new GovCommandError(
        'GOV_VOTING_NOT_OPEN',
        `voting on ${proposalId} opens after ${isoTime(status.snapshot)}`,
      )
    }
    if (status.state !== 'active') {
      throw new GovCommandError(
        'GOV_VOTING_CLOSED',
        `voting on ${proposalId} is closed: it is ${status.state}`,
        {
          details: `voting closed ${isoTime(status.deadline)}`,
        },
      )
    }
    const reason = context.flags.reason
    try {
      const cast = await castVote(g.access.client, {
        governor: g.governor,
        proposalId,
        support,
        ...(typeof reason === 'string' ? { reason } : {}),
      })
      return {
        json: {
          proposalId: proposalId.toString(),
          support,
          weight: cast.weight.toString(),
          transaction: cast.hash,
        },
        text:
          cast.weight === 0n
            ? `Voted ${support} on ${proposalId} with a weight of 0: ${g.access.address} had no votes delegated at the snapshot (transaction ${cast.hash})`
            : `Voted ${support} on ${proposalId}: ${formatOpen(cast.weight)} counted (transaction ${cast.hash})`,
      }
    } catch (cause) {
      throw toGovError(cause, g.access, proposalId)
    }
  },
}

type StoredProposal = Awaited<ReturnType<typeof loadProposal>>

/**
 * `gov queue` and `gov execute` are one timelock step with different checks and sends: refuse
 * with a reason unless the proposal is ready for the step, then load its stored actions, send
 * the step, and turn reverts into what the user should do.
 */
function timelockStepCommand(step: {
  name: 'queue' | 'execute'
  summary: string
  /** throws a GovCommandError saying why the proposal is not ready for this step */
  ready(g: GovAccess, status: ProposalStatus, proposalId: bigint): Promise<void> | void
  send(g: GovAccess, proposal: StoredProposal, proposalId: bigint): Promise<CommandResult>
}): Command {
  return {
    path: ['gov', step.name],
    summary: step.summary,
    usage: `ocn gov ${step.name} <id> [config flags]`,
    configFlags: true,
    maxPositionals: 1,
    flags: { ...passphraseFlag },
    async run(context) {
      const proposalId = parseProposalId(context.positionals[0])
      const g = await openGov(context, true)
      await step.ready(g, await statusOf(g, proposalId), proposalId)
      try {
        const proposal = await loadProposal(g.access, g.dataDir, g.governor, proposalId)
        return await step.send(g, proposal, proposalId)
      } catch (cause) {
        throw toGovError(cause, g.access, proposalId)
      }
    },
  }
}

export const govQueueCommand: Command = timelockStepCommand({
  name: 'queue',
  summary: 'queue a succeeded proposal in the timelock',
  ready(_g, status, proposalId) {
    if (status.state === 'succeeded') return
    const why =
      status.state === 'active' || status.state === 'pending'
        ? `voting is still open until ${isoTime(status.deadline)}`
        : status.state === 'defeated'
          ? 'it was defeated (more against than for, or quorum not reached)'
          : status.state === 'queued'
            ? `it is already queued, executable ${isoTime(status.eta)}`
            : `it is ${status.state}`
    throw new GovCommandError('GOV_NOT_QUEUEABLE', `proposal ${proposalId} cannot be queued: ${why}`)
  },
  async send(g, proposal, proposalId) {
    const queued = await queueProposal(g.access.client, { governor: g.governor, proposal })
    return {
      json: { proposalId: proposalId.toString(), eta: queued.eta.toString(), transaction: queued.hash },
      text: `Queued ${proposalId}: executable from ${isoTime(queued.eta)} (transaction ${queued.hash})`,
    }
  },
})

export const govExecuteCommand: Command = timelockStepCommand({
  name: 'execute',
  summary: 'execute a queued proposal once its timelock delay has passed',
  async ready(g, status, proposalId) {
    if (status.state === 'succeeded') {
      throw new GovCommandError('GOV_NOT_EXECUTABLE', `proposal ${proposalId} passed but is not queued yet`, {
        details: `run \`ocn gov queue ${proposalId}\` first`,
      })
    }
    if (status.state !== 'queued') {
      throw new GovCommandError(
        'GOV_NOT_EXECUTABLE',
        `proposal ${proposalId} cannot be executed: it is ${status.state}`,
      )
    }
    // The execution is simulated against the latest block, so that block's time must have
    // reached the eta (one second short, the timelock would refuse it in the simulation).
    const now = await chainTime(g)
    if (now < status.eta) {
      throw new GovCommandError(
        'GOV_NOT_READY',
        `proposal ${proposalId} is in the timelock until ${isoTime(status.eta)} (${status.eta - now} s from the chain's latest block)`,
      )
    }
  },
  async send(g, proposal, proposalId) {
    const executed = await executeProposal(g.access.client, { governor: g.governor, proposal })
    return {
      json: { proposalId: proposalId.toString(), state: 'executed', transaction: executed.hash },
      text: `Executed ${proposalId} (transaction ${executed.hash})`,
    }
  },
})

export const govStatusCommand: Command = {
  path: ['gov', 'status'],
  summary: 'show governance, or one proposal: state, votes against quorum, times',
  usage: 'ocn gov status [id] [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: {},
  async run(context) {
    const idText = context.positionals[0]
    const proposalId = idText === undefined ? undefined : parseProposalId(idText)
    const g = await openGov(context, false)
    const now = await chainTime(g)
    const gov = g.access.deployment.governance
    if (proposalId === undefined) {
      const votes = await getVotes(g.access.client, {
        token: g.access.deployment.addresses.token,
        account: g.access.address,
      }).catch((cause: unknown) => {
        throw toChainCommandError(cause, g.access)
      })
      return {
        json: { ...gov, chainTime: now.toString(), account: g.access.address, votes: votes.toString() },
        text: [
          `governor   ${gov?.governor}`,
          `timelock   ${gov?.timelock}`,
          `council    ${gov?.council}`,
          `account    ${g.access.address}: ${formatOpen(votes)} of votes`,
          `chain time ${isoTime(now)}`,
        ].join('\n'),
      }
    }
    const status = await statusOf(g, proposalId)
    return {
      json: { ...statusJson(status), chainTime: now.toString() },
      text: `${statusText(status)}\n  chain time ${isoTime(now)}`,
    }
  },
}

export const govCommands: readonly Command[] = [
  govDelegateCommand,
  govProposeCommand,
  govVoteCommand,
  govQueueCommand,
  govExecuteCommand,
  govStatusCommand,
]
