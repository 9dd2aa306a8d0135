/** What the chain service reads for the API and the roles: balances, chain time, model statuses. */
import {
  awardDrawsFromBalance,
  type Deployment,
  getMarketAccount,
  getModel,
  getProviderRecord,
  getStake,
  getTokenBalance,
  openTokenAbi,
} from '@ocn/contracts-client'
import type { Address, Hash } from 'viem'
import { getBalance, getBlock, readContract } from 'viem/actions'
import type { Balances } from '../api/interface.js'
import type { ProviderRecordReading } from '../api/services.js'
import type { OcnChainClient } from './client.js'
import { ChainServiceError } from './errors.js'
import { createModelStatusCache, defaultModelStatusCacheOptions, type ModelStatusCache } from './models.js'
import type { ChainServiceOptions } from './options.js'

export async function readBalances(
  client: OcnChainClient,
  deployment: Deployment,
  address: string,
): Promise<Balances> {
  const account = address as Address
  const [native, token, stake, market] = await Promise.all([
    getBalance(client, { address: account }),
    getTokenBalance(client, { token: deployment.addresses.token, account }),
    getStake(client, { stakeManager: deployment.addresses.stakeManager, account }),
    getMarketAccount(client, { jobMarket: deployment.addresses.jobMarket, account }),
  ])
  const balances: Balances = {
    address,
    native,
    token,
    staked: stake.staked,
    locked: stake.locked,
    market: market.balance,
    payoutToBalance: market.payoutToBalance,
  }
  // stake leaving the node: the console shows how much and when it can be withdrawn
  if (stake.unbonding > 0n) {
    balances.unbonding = stake.unbonding
    balances.unbondingReadyAt = stake.unbondingReadyAt
  }
  return balances
}

/** A provider's record in the deployment's JobMarket. */
export async function readProviderRecord(
  client: OcnChainClient,
  deployment: Deployment,
  provider: string,
): Promise<ProviderRecordReading> {
  const record = await getProviderRecord(client, {
    jobMarket: deployment.addresses.jobMarket,
    provider: provider as Address,
  })
  return {
    completed: record.completed,
    slashed: record.slashed,
    noShows: record.noShows,
    totalEarned: record.totalEarned,
  }
}

/** What a requester can pay with: OPEN held, its allowance to the JobMarket, its prepaid market balance. */
export interface RequesterFundsReading {
  /** OPEN the account holds (an award not paid from `market` pulls the price from here) */
  balance: bigint
  /** allowance to the JobMarket (what such a `transferFrom` may take) */
  allowance: bigint
  /** prepaid balance inside the JobMarket (an award takes the price from here when it covers it) */
  market: bigint
}

/**
 * What a requester can pay: its OPEN balance, its allowance to the JobMarket and its prepaid
 * balance there (gossip checks an offer's maxPrice against them before providers spend
 * anything on it; the requester checks a bid's price before it awards).
 */
export async function readRequesterFunds(
  client: OcnChainClient,
  deployment: Deployment,
  requester: Address,
): Promise<RequesterFundsReading> {
  const { token, jobMarket } = deployment.addresses
  const [balance, allowance, account] = await Promise.all([
    getTokenBalance(client, { token, account: requester }),
    readContract(client, {
      address: token,
      abi: openTokenAbi,
      functionName: 'allowance',
      args: [requester, jobMarket],
    }),
    getMarketAccount(client, { jobMarket, account: requester }),
  ])
  return { balance, allowance, market: account.balance }
}

/**
 * Where an award at `price` would take the price from, by the JobMarket's own rule: the prepaid
 * balance when it covers the whole price ('market'), else the tokens held by `transferFrom`
 * ('wallet', which needs an allowance the requester raises itself); undefined when neither
 * covers it (the award would revert). A balance short of the price is never used in part.
 */
export function escrowSource(
  funds: Pick<RequesterFundsReading, 'balance' | 'market'>,
  price: bigint,
): 'market' | 'wallet' | undefined {
  if (awardDrawsFromBalance(funds.market, price)) return 'market'
  return funds.balance >= price ? 'wallet' : undefined
}

/** latest block timestamp (unix seconds) */
export async function readChainTime(client: OcnChainClient): Promise<bigint> {
  const block = await getBlock(client, { blockTag: 'latest' })
  return block.timestamp
}

/** undefined when the block cannot be read (not mined yet, pruned, endpoint down) */
export async function readBlockHash(client: OcnChainClient, blockNumber: bigint): Promise<Hash | undefined> {
  try {
    const block = await getBlock(client, { blockNumber })
    return block.hash ?? undefined
  } catch {
    return undefined
  }
}

/** Statuses from the deployment's ModelRegistry; throws CHAIN_NO_MODEL_REGISTRY when it names none. */
export function createRegistryStatusCache(
  client: OcnChainClient,
  deployment: Deployment,
  options: Pick<ChainServiceOptions, 'modelStatusTtlMs' | 'rpcTimeoutMs'>,
): ModelStatusCache {
  const registry = deployment.addresses.modelRegistry
  if (registry === undefined) {
    throw new ChainServiceError('CHAIN_NO_MODEL_REGISTRY', 'the deployment names no ModelRegistry', {
      details: 'add addresses.modelRegistry to the deployment file (deployProtocol writes it)',
    })
  }
  return createModelStatusCache(
    async (modelHash) => (await getModel(client, { modelRegistry: registry, modelHash }))?.status ?? 'none',
    {
      ...defaultModelStatusCacheOptions,
      ttlMs: options.modelStatusTtlMs,
      timeoutMs: options.rpcTimeoutMs,
    },
  )
}
