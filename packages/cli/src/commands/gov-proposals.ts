/**
 * What the `ocn gov` commands share: the governance addresses from the deployment file, the
 * mapping of protocol parameter names onto the setter calls a proposal makes, and the local
 * record of proposals. Queue and execute need a proposal's exact calls and description (the
 * governor stores only their hash), so `propose` saves them under the data directory; a
 * proposal made elsewhere is rebuilt from the governor's ProposalCreated event instead.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type Deployment,
  type GovernanceAddresses,
  jobMarketAbi,
  openGovernorAbi,
  type Proposal,
  type ProposalCall,
  proposalCall,
  proposalIdOf,
  stakeManagerAbi,
} from '@ocn/contracts-client'
import { NodeError } from '@ocn/node'
import { type Address, formatEther, type Hex, isAddress, isHex, parseEther } from 'viem'
import { getContractEvents, readContract } from 'viem/actions'
import type { ChainAccess } from './chain-access.js'

export type GovCommandErrorCode =
  | 'GOV_NOT_DEPLOYED'
  | 'GOV_INVALID_ARGUMENT'
  | 'GOV_PROPOSAL_UNKNOWN'
  | 'GOV_VOTING_NOT_OPEN'
  | 'GOV_VOTING_CLOSED'
  | 'GOV_ALREADY_VOTED'
  | 'GOV_NOT_QUEUEABLE'
  | 'GOV_NOT_EXECUTABLE'
  | 'GOV_NOT_READY'
  | 'GOV_BELOW_THRESHOLD'

/** A governance command failed for a reason the user can fix (exit code 2). */
export class GovCommandError extends NodeError<GovCommandErrorCode> {
  override name = 'GovCommandError'
}

export function governanceOf(deployment: Deployment, deploymentFile: string): GovernanceAddresses {
  if (deployment.governance === undefined) {
    throw new GovCommandError(
      'GOV_NOT_DEPLOYED',
      `the deployment file ${deploymentFile} names no governance`,
      {
        details:
          'this protocol is not under on-chain governance; deployGovernance records governor, timelock and council there',
      },
    )
  }
  return deployment.governance
}

type ParameterKind = 'bps' | 'seconds' | 'open' | 'address'

/** The protocol parameters a proposal can set, named as in the deployment file's `params`. */
export const governedParameters = {
  protocolFeeBps: { kind: 'bps', setter: 'JobMarket.setProtocolFee' },
  cheatSlashBps: { kind: 'bps', setter: 'JobMarket.setSlashFractions' },
  noShowSlashBps: { kind: 'bps', setter: 'JobMarket.setSlashFractions' },
  challengerRewardBps: { kind: 'bps', setter: 'JobMarket.setChallengerRewardShare' },
  attributionShareBps: { kind: 'bps', setter: 'JobMarket.setAttributionShare' },
  challengeWindow: { kind: 'seconds', setter: 'JobMarket.setChallengeWindow' },
  verifierMinStake: { kind: 'open', setter: 'JobMarket.setVerifierMinStake' },
  treasury: { kind: 'address', setter: 'JobMarket.setTreasury' },
  unbondingDelay: { kind: 'seconds', setter: 'StakeManager.setUnbondingDelay' },
} as const satisfies Record<string, { kind: ParameterKind; setter: string }>
export type GovernedParameter = keyof typeof governedParameters

export interface ParameterChange {
  parameter: GovernedParameter
  /** base units: bps, seconds, wei of OPEN, or an address */
  value: string
}

const maxOf = { bps: 10_000n, seconds: 2n ** 32n - 1n, open: 2n ** 96n - 1n } as const

function invalid(message: string, details?: string): GovCommandError {
  return new GovCommandError('GOV_INVALID_ARGUMENT', message, details === undefined ? {} : { details })
}

/** Parses one `--set name=value`; amounts of OPEN are given in OPEN (`10`, `0.5`). */
export function parseParameterChange(text: string): ParameterChange {
  const eq = text.indexOf('=')
  const name = eq < 0 ? text : text.slice(0, eq)
  const raw = eq < 0 ? '' : text.slice(eq + 1).trim()
  if (!(name in governedParameters)) {
    throw invalid(
      `unknown parameter "${name}" in --set ${text}`,
      `settable: ${Object.keys(governedParameters).join(', ')}`,
    )
  }
  const parameter = name as GovernedParameter
  const { kind } = governedParameters[parameter]
  if (eq < 0 || raw === '') throw invalid(`--set ${parameter} needs a value: --set ${parameter}=<value>`)
  if (kind === 'address') {
    if (!isAddress(raw)) throw invalid(`${parameter} must be an address (got "${raw}")`)
    return { parameter, value: raw }
  }
  let value: bigint
  if (kind === 'open') {
    const amount = raw.replace(/\s*OPEN$/i, '')
    if (!/^\d+(\.\d{1,18})?$/.test(amount)) {
      throw invalid(`${parameter} must be an amount of OPEN such as 10 or 0.5 (got "${raw}")`)
    }
    value = parseEther(amount)
  } else {
    if (!/^\d+$/.test(raw)) {
      throw invalid(`${parameter} must be a whole number of ${kind === 'bps' ? 'basis points' : 'seconds'}`)
    }
    value = BigInt(raw)
  }
  if (value > maxOf[kind]) throw invalid(`${parameter} ${raw} is above its largest value ${maxOf[kind]}`)
  return { parameter, value: value.toString() }
}

export function formatChange(change: ParameterChange): string {
  const { kind } = governedParameters[change.parameter]
  const value =
    kind === 'open'
      ? `${formatEther(BigInt(change.value))} OPEN`
      : kind === 'bps'
        ? `${change.value} bps`
        : kind === 'seconds'
          ? `${change.value} s`
          : change.value
  return `${change.parameter} = ${value}`
}

/**
 * The calls a proposal makes for `changes`. The two slash fractions share one setter, so
 * setting only one of them carries the other's current on-chain value along.
 */
export async function callsFor(
  access: ChainAccess,
  changes: readonly ParameterChange[],
): Promise<ProposalCall[]> {
  const seen = new Set<GovernedParameter>()
  for (const change of changes) {
    if (seen.has(change.parameter)) throw invalid(`--set ${change.parameter} is given twice`)
    seen.add(change.parameter)
  }
  const { jobMarket, stakeManager } = access.deployment.addresses
  const byName = new Map(changes.map((c) => [c.parameter, c.value]))
  const calls: ProposalCall[] = []
  const market = (functionName: string, args: readonly unknown[]) =>
    proposalCall({ target: jobMarket, abi: jobMarketAbi, functionName, args } as Parameters<
      typeof proposalCall
    >[0])
  for (const change of changes) {
    const v = change.value
    switch (change.parameter) {
      case 'protocolFeeBps':
        calls.push(market('setProtocolFee', [Number(v)]))
        break
      case 'challengerRewardBps':
        calls.push(market('setChallengerRewardShare', [Number(v)]))
        break
      case 'attributionShareBps':
        calls.push(market('setAttributionShare', [Number(v)]))
        break
      case 'challengeWindow':
        calls.push(market('setChallengeWindow', [Number(v)]))
        break
      case 'verifierMinStake':
        calls.push(market('setVerifierMinStake', [BigInt(v)]))
        break
      case 'treasury':
        calls.push(market('setTreasury', [v as Address]))
        break
      case 'unbondingDelay':
        calls.push(
          proposalCall({
            target: stakeManager,
            abi: stakeManagerAbi,
            functionName: 'setUnbondingDelay',
            args: [BigInt(v)],
          }),
        )
        break
      case 'cheatSlashBps':
      case 'noShowSlashBps': {
        // one call for both, placed where the first of the two was given
        if (change.parameter === 'noShowSlashBps' && byName.has('cheatSlashBps')) break
        if (change.parameter === 'cheatSlashBps' || !byName.has('cheatSlashBps')) {
          const current = await readContract(access.client, {
            address: jobMarket,
            abi: jobMarketAbi,
            functionName: 'params',
          })
          const cheat = Number(byName.get('cheatSlashBps') ?? current.cheatSlashBps)
          const noShow = Number(byName.get('noShowSlashBps') ?? current.noShowSlashBps)
          calls.push(market('setSlashFractions', [cheat, noShow]))
        }
        break
      }
    }
  }
  return calls
}

/** A proposal as saved under the data directory. */
export interface StoredProposal {
  proposalId: string
  chainId: number
  governor: Address
  description: string
  calls: { target: Address; value: string; data: Hex }[]
  changes?: ParameterChange[]
}

function storePath(dataDir: string, chainId: number, governor: Address, proposalId: bigint): string {
  return join(dataDir, 'governance', `${chainId}-${governor.toLowerCase()}`, `${proposalId}.json`)
}

export async function saveProposal(dataDir: string, stored: StoredProposal): Promise<string> {
  const path = storePath(dataDir, stored.chainId, stored.governor, BigInt(stored.proposalId))
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, `${JSON.stringify(stored, null, 2)}\n`)
  return path
}

/** Parses a proposal id given on the command line (decimal, or 0x hex as some explorers show). */
export function parseProposalId(text: string | undefined): bigint {
  const t = (text ?? '').trim()
  if (!/^\d+$/.test(t) && !(isHex(t) && t.length > 2)) {
    throw invalid(
      `a proposal id must be a number (got "${text ?? ''}")`,
      'it is printed by `ocn gov propose`',
    )
  }
  const id = BigInt(t)
  if (id >= 2n ** 256n) throw invalid('a proposal id fits in 256 bits')
  return id
}

function fromStored(stored: StoredProposal): Proposal {
  return {
    description: stored.description,
    calls: stored.calls.map((c) => ({ target: c.target, value: BigInt(c.value), data: c.data })),
  }
}

/**
 * The calls and description of proposal `proposalId`: from the local record, else from the
 * governor's ProposalCreated event. Either way the id is recomputed, so a tampered record
 * cannot queue or execute anything but what was voted on.
 */
export async function loadProposal(
  access: ChainAccess,
  dataDir: string,
  governor: Address,
  proposalId: bigint,
): Promise<Proposal> {
  const path = storePath(dataDir, access.chainId, governor, proposalId)
  let proposal: Proposal | undefined
  try {
    proposal = fromStored(JSON.parse(await readFile(path, 'utf8')) as StoredProposal)
  } catch {
    const events = await getContractEvents(access.client, {
      address: governor,
      abi: openGovernorAbi,
      eventName: 'ProposalCreated',
      fromBlock: access.deployment.deployBlock,
      toBlock: 'latest',
    })
    const created = events.find((e) => e.args.proposalId === proposalId)
    if (created !== undefined) {
      const { targets = [], values = [], calldatas = [], description = '' } = created.args
      proposal = {
        description,
        calls: targets.map((target, i) => ({ target, value: values[i] ?? 0n, data: calldatas[i] ?? '0x' })),
      }
    }
  }
  if (proposal === undefined || proposalIdOf(proposal) !== proposalId) {
    throw new GovCommandError(
      'GOV_PROPOSAL_UNKNOWN',
      `proposal ${proposalId} is unknown to governor ${governor}`,
      {
        details: 'check the id printed by `ocn gov propose` and that --deployment names the right chain',
      },
    )
  }
  return proposal
}

export function isoTime(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString()
}
