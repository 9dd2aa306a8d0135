/** Staked contributions: submit, curate, withdraw, and the records they build. */
import type { Address, Hex } from 'viem'
import { parseEventLogs } from 'viem'
import { readContract, simulateContract } from 'viem/actions'
import { datanetRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolReadClient, ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { ContributionStatus, type ContributionStatusName } from './params.js'

export interface ContributeParameters extends WriteOptions {
  datanetRegistry: Address
  datanetId: bigint
  /** content hash (SHA-256) of the contributed data */
  dataHash: Hex
  /** rows the data adds to the dataset */
  rows: bigint
}

/** Registers the caller's data and locks the governed `contributionStake` (approve the registry first). */
export async function contribute(
  client: ProtocolWalletClient,
  { datanetRegistry, datanetId, dataHash, rows, gas }: ContributeParameters,
): Promise<WriteResult & { index: bigint }> {
  const { request, result } = await simulate('contribute', () =>
    simulateContract(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'contribute',
      args: [datanetId, dataHash, rows],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const written = await submit(client, request, 'contribute')
  const [submitted] = parseEventLogs({
    abi: datanetRegistryAbi,
    eventName: 'ContributionSubmitted',
    logs: written.receipt.logs,
  })
  return { ...written, index: submitted?.args.index ?? result }
}

export interface ContributionActionParameters extends WriteOptions {
  datanetRegistry: Address
  datanetId: bigint
  index: bigint
}

type ContributionWrite =
  | 'acceptContribution'
  | 'rejectContribution'
  | 'withdrawStake'
  | 'challengeContribution'

async function writeContribution(
  client: ProtocolWalletClient,
  functionName: ContributionWrite,
  { datanetRegistry, datanetId, index, gas }: ContributionActionParameters,
): Promise<WriteResult> {
  const { request } = await simulate(functionName, () =>
    simulateContract(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      functionName,
      args: [datanetId, index],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, functionName)
}

/** A curator (or the creator) accepts a pending contribution into the manifest. */
export const acceptContribution = (client: ProtocolWalletClient, p: ContributionActionParameters) =>
  writeContribution(client, 'acceptContribution', p)
/** A curator (or the creator) rejects a pending contribution; its stake goes back to the contributor. */
export const rejectContribution = (client: ProtocolWalletClient, p: ContributionActionParameters) =>
  writeContribution(client, 'rejectContribution', p)
/** The contributor takes its stake back (pending: any time; accepted: unlocked and not challengeable). */
export const withdrawContributionStake = (client: ProtocolWalletClient, p: ContributionActionParameters) =>
  writeContribution(client, 'withdrawStake', p)
/** Anyone slashes a contribution ranked harmful, during its challenge period. */
export const challengeContribution = (client: ProtocolWalletClient, p: ContributionActionParameters) =>
  writeContribution(client, 'challengeContribution', p)

export interface ContributionRecord {
  contributor: Address
  status: ContributionStatusName
  /** unix seconds the stake unlocks (accepted contributions) */
  unlocksAt: number
  /** unix seconds until which it can be slashed (0: never ranked harmful) */
  challengeableUntil: number
  stake: bigint
  rows: bigint
  startRow: bigint
  dataHash: Hex
  harmfulModel: Hex
}

export async function getContribution(
  client: ProtocolReadClient,
  { datanetRegistry, datanetId, index }: { datanetRegistry: Address; datanetId: bigint; index: bigint },
): Promise<ContributionRecord> {
  const c = await simulate('getContribution', () =>
    readContract(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'getContribution',
      args: [datanetId, index],
    }),
  )
  return { ...c, status: ContributionStatus[c.status] ?? 'none' }
}

export interface ContributorRecord {
  attributions: number
  harmful: number
  slashed: number
  weightBpsTotal: bigint
  /** weight earned less 10 000 per harmful ranking, floored at 0 */
  reputation: bigint
}

export async function getContributorRecord(
  client: ProtocolReadClient,
  { datanetRegistry, contributor }: { datanetRegistry: Address; contributor: Address },
): Promise<ContributorRecord> {
  const [r, reputation] = await simulate('getContributorRecord', () =>
    Promise.all([
      readContract(client, {
        address: datanetRegistry,
        abi: datanetRegistryAbi,
        functionName: 'getContributorRecord',
        args: [contributor],
      }),
      readContract(client, {
        address: datanetRegistry,
        abi: datanetRegistryAbi,
        functionName: 'reputationOf',
        args: [contributor],
      }),
    ]),
  )
  return { ...r, reputation }
}
