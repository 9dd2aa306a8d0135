/**
 * A contributor's side after an attribution: its share of every settled round of the models
 * trained on its datanet (Merkle claims in the AttributionPool), and its contribution stake back
 * once unlocked and no longer challengeable.
 *
 * The weights need no file from the requester and no particular transaction: the registry's
 * `AttributionRecorded` event carries the weights list itself, so the weights tree is rebuilt from
 * the event alone (checked against the root the same event recorded). A recording sent through a
 * multisig, a timelock or any other contract is found like a direct one.
 */
import { attributionWeightsTree } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { getBlock, getContractEvents } from 'viem/actions'
import { claimAttribution } from '../attribution/claimAttribution.js'
import { getAttributionPool } from '../attribution/getAttributionPool.js'
import { getAttributionRound } from '../attribution/getAttributionRound.js'
import { settleAttributionRound } from '../attribution/settleAttributionRound.js'
import { datanetRegistryAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient, ProtocolWalletClient } from '../types.js'
import { getContribution, withdrawContributionStake } from './contributions.js'

/** One attribution recorded for a datanet: the model it paid and the weights it committed. */
export interface RecordedAttribution {
  modelHash: Hex
  jobId: Hex
  weightsRoot: Hex
  weights: { address: Address; weight: number }[]
  transaction: Hex
}

export interface DatanetQuery {
  datanetRegistry: Address
  datanetId: bigint
  /** first block to search for the registry's events (the deployment's `deployBlock`) */
  fromBlock?: bigint
}

/** Every attribution recorded for `datanetId`, weights read from the recording events. */
export async function getRecordedAttributions(
  client: ProtocolReadClient,
  { datanetRegistry, datanetId, fromBlock = 0n }: DatanetQuery,
): Promise<RecordedAttribution[]> {
  const events = await simulate('AttributionRecorded', () =>
    getContractEvents(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      eventName: 'AttributionRecorded',
      args: { datanetId },
      fromBlock,
    }),
  )
  const recorded: RecordedAttribution[] = []
  for (const event of events) {
    const { modelHash, jobId, weightsRoot, weights: entries } = event.args
    if (
      modelHash === undefined ||
      jobId === undefined ||
      weightsRoot === undefined ||
      entries === undefined
    ) {
      continue
    }
    // the contract checked the weights sum to 10 000 bps, so each fits a number exactly
    const weights = entries.map((w) => ({ address: w.account, weight: Number(w.weight) }))
    // the contract does not rebuild the tree: a result whose root does not fit its own weights
    // (committed so by its job) has no leaf anyone could prove, so there is nothing to claim
    if (attributionWeightsTree(weights).root !== weightsRoot) continue
    recorded.push({ modelHash, jobId, weightsRoot, weights, transaction: event.transactionHash })
  }
  return recorded
}

/** The contributor's latest contribution index in `datanetId`, or undefined if it has none. */
export async function findContributionIndex(
  client: ProtocolReadClient,
  { datanetRegistry, datanetId, fromBlock = 0n, contributor }: DatanetQuery & { contributor: Address },
): Promise<bigint | undefined> {
  const events = await simulate('ContributionSubmitted', () =>
    getContractEvents(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      eventName: 'ContributionSubmitted',
      args: { datanetId, contributor },
      fromBlock,
    }),
  )
  return events.at(-1)?.args.index
}

export interface ClaimContributorRewardsParameters extends DatanetQuery {
  attributionPool: Address
  /** whose rewards (default: the sending account); only the contributor itself gets its stake back */
  contributor?: Address
  /** settle a model's pending fees into a round before claiming (default true; anyone may settle) */
  settle?: boolean
}

export interface ContributorClaim {
  modelHash: Hex
  round: bigint
  index: number
  weight: number
  paid: bigint
  transaction: Hex
}

/** What happened to the contribution stake. */
export type ContributionStakeOutcome =
  | { state: 'none' }
  | { state: 'withdrawn'; index: bigint; amount: bigint; transaction: Hex }
  | { state: 'locked'; index: bigint; amount: bigint; until: number }
  | { state: 'not-contributor'; index: bigint; amount: bigint }
  | { state: 'gone'; index: bigint; status: string }

export interface ClaimContributorRewardsResult {
  contributor: Address
  claims: ContributorClaim[]
  /** OPEN paid by all claims, in wei */
  paid: bigint
  stake: ContributionStakeOutcome
}

/**
 * Claims every unclaimed round the contributor has a leaf in, for each model whose attribution
 * was recorded on `datanetId` (settling pending fees first), then withdraws its contribution
 * stake if unlocked and not challengeable. Claims already made are skipped, so running it twice
 * pays nothing the second time.
 */
export async function claimContributorRewards(
  client: ProtocolWalletClient,
  params: ClaimContributorRewardsParameters,
): Promise<ClaimContributorRewardsResult> {
  const contributor = params.contributor ?? client.account.address
  const claims: ContributorClaim[] = []
  for (const recorded of await getRecordedAttributions(client, params)) {
    const index = recorded.weights.findIndex((w) => w.address.toLowerCase() === contributor.toLowerCase())
    if (index < 0) continue
    claims.push(...(await claimModelRounds(client, params, recorded, index)))
  }
  const stake = await withdrawIfUnlocked(client, { ...params, contributor })
  return { contributor, claims, paid: claims.reduce((sum, c) => sum + c.paid, 0n), stake }
}

async function claimModelRounds(
  client: ProtocolWalletClient,
  { attributionPool, settle = true }: ClaimContributorRewardsParameters,
  recorded: RecordedAttribution,
  index: number,
): Promise<ContributorClaim[]> {
  const { modelHash, weightsRoot, weights } = recorded
  const pool = { attributionPool, modelId: modelHash }
  const state = await getAttributionPool(client, pool)
  // settle only under these weights: a later override's rounds belong to its own leaves
  if (settle && state.pending > 0n && state.weightsRoot === weightsRoot) {
    await settleAttributionRound(client, pool)
  }
  const proof = attributionWeightsTree(weights).proof(index)
  const weight = weights[index]!.weight
  const claims: ContributorClaim[] = []
  const { rounds } = await getAttributionPool(client, pool)
  for (let round = 0n; round < rounds; round++) {
    const info = await getAttributionRound(client, { ...pool, round, indices: [index] })
    if (info.claimed[0] || info.weightsRoot !== weightsRoot) continue
    const account = weights[index]!.address
    const done = await claimAttribution(client, {
      attributionPool,
      modelId: modelHash,
      round,
      index,
      account,
      weight,
      proof,
    })
    claims.push({ modelHash, round, index, weight, paid: done.paid, transaction: done.hash })
  }
  return claims
}

async function withdrawIfUnlocked(
  client: ProtocolWalletClient,
  params: ClaimContributorRewardsParameters & { contributor: Address },
): Promise<ContributionStakeOutcome> {
  const { datanetRegistry, datanetId } = params
  const index = await findContributionIndex(client, params)
  if (index === undefined) return { state: 'none' }
  const c = await getContribution(client, { datanetRegistry, datanetId, index })
  if (c.status !== 'accepted') return { state: 'gone', index, status: c.status }
  if (client.account.address.toLowerCase() !== params.contributor.toLowerCase()) {
    return { state: 'not-contributor', index, amount: c.stake }
  }
  const until = Math.max(c.unlocksAt, c.challengeableUntil)
  const now = (await getBlock(client, { blockTag: 'latest' })).timestamp
  if (now <= BigInt(until)) return { state: 'locked', index, amount: c.stake, until }
  const done = await withdrawContributionStake(client, { datanetRegistry, datanetId, index })
  return { state: 'withdrawn', index, amount: c.stake, transaction: done.hash }
}
