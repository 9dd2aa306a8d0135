/**
 * The role views' calls: this node as a provider (`GET /provider`), providers' on-chain
 * records (`GET /providers`, for a job's bidders) and this node as a verifier (`GET /verifier`).
 * Amounts arrive as decimal strings and are returned as bigints; a field that is not one is a
 * CLIENT_BAD_RESPONSE naming it.
 */
import {
  type ApiJson,
  isDecimalString,
  type ProviderSettlement,
  type ProviderStanding,
  type ProviderSummary,
  type VerifierReward,
  type VerifierSummary,
} from '@ocn/protocol/api'
import { ClientError } from './errors.js'
import type { CallOptions } from './http.js'

/** Bidders asked for in one call at most (the node's limit). */
export const MAX_STANDINGS_PER_CALL = 32
const ADDRESS = /^0x[0-9a-fA-F]{40}$/

function amount(value: unknown, field: string): bigint {
  if (!isDecimalString(value))
    throw new ClientError('CLIENT_BAD_RESPONSE', `the node's answer lacks a decimal "${field}"`)
  return BigInt(value)
}

function toStanding(raw: ApiJson<ProviderStanding>): ProviderStanding {
  return { ...raw, totalEarned: amount(raw.totalEarned, 'totalEarned') }
}

function toSettlement(raw: ApiJson<ProviderSettlement>): ProviderSettlement {
  return {
    ...raw,
    earned: amount(raw.earned, 'earned'),
    slashedCollateral: amount(raw.slashedCollateral, 'slashedCollateral'),
  }
}

function toProviderSummary(raw: ApiJson<ProviderSummary>): ProviderSummary {
  const { standing, ...rest } = raw
  return {
    ...rest,
    priceFloorPerSample: amount(raw.priceFloorPerSample, 'priceFloorPerSample'),
    settlements: (raw.settlements ?? []).map(toSettlement),
    ...(standing === undefined ? {} : { standing: toStanding(standing) }),
  }
}

function toReward(raw: ApiJson<VerifierReward>): VerifierReward {
  const { disputeId, ...rest } = raw
  return {
    ...rest,
    amount: amount(raw.amount, 'amount'),
    blockNumber: amount(raw.blockNumber, 'blockNumber'),
    ...(disputeId === undefined ? {} : { disputeId: amount(disputeId, 'disputeId') }),
  }
}

function toVerifierSummary(raw: ApiJson<VerifierSummary>): VerifierSummary {
  const rewards: Partial<ApiJson<VerifierSummary>['rewards']> = raw.rewards ?? {}
  return {
    ...raw,
    rewards: {
      challenger: amount(rewards.challenger, 'rewards.challenger'),
      jurorFees: amount(rewards.jurorFees, 'rewards.jurorFees'),
      jurorPenalties: amount(rewards.jurorPenalties, 'rewards.jurorPenalties'),
      entries: (rewards.entries ?? []).map(toReward),
    },
  }
}

function requireAddresses(addresses: readonly string[]): string {
  if (
    addresses.length === 0 ||
    addresses.length > MAX_STANDINGS_PER_CALL ||
    !addresses.every((address) => typeof address === 'string' && ADDRESS.test(address))
  )
    throw new ClientError(
      'CLIENT_INVALID_INPUT',
      `providerStandings takes 1 to ${MAX_STANDINGS_PER_CALL} 0x addresses (40 hex digits each)`,
    )
  return addresses.join(',')
}

export function createRoleCalls(get: <T>(path: string, call?: CallOptions) => Promise<T>) {
  return {
    /** This node as a provider: price floor, capacity, on-chain record and reputation, settled jobs. */
    provider: async (call?: CallOptions): Promise<ProviderSummary> =>
      toProviderSummary(await get<ApiJson<ProviderSummary>>('/provider', call)),
    /** The JobMarket record and ranking risk of each provider (a job's bidders), read by the node. */
    providerStandings: async (
      addresses: readonly string[],
      call?: CallOptions,
    ): Promise<ProviderStanding[]> => {
      const list = encodeURIComponent(requireAddresses(addresses))
      const raw = await get<{ standings: ApiJson<ProviderStanding>[] }>(`/providers?addresses=${list}`, call)
      return (raw.standings ?? []).map(toStanding)
    },
    /** This node as a verifier: checks, detection, challenges, jury duty and the rewards it was paid. */
    verifier: async (call?: CallOptions): Promise<VerifierSummary> =>
      toVerifierSummary(await get<ApiJson<VerifierSummary>>('/verifier', call)),
  }
}
