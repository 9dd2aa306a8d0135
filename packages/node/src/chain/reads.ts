/** What the chain service reads for the API and the roles: balances, chain time, model statuses. */
import {
  type Deployment,
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
  const [native, token, stake] = await Promise.all([
    getBalance(client, { address: account }),
    getTokenBalance(client, { token: deployment.addresses.token, account }),
    getStake(client, { stakeManager: deployment.addresses.stakeManager, account }),
  ])
  const balances: Balances = { address, native, token, staked: stake.staked, locked: stake.locked }
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

/**
 * What a requester can pay: its OPEN balance and its allowance to the JobMarket (gossip checks
 * an offer's maxPrice against them before providers spend anything on it).
 */
export async function readRequesterFunds(
  client: OcnChainClient,
  deployment: Deployment,
  requester: Address,
): Promise<{ balance: bigint; allowance: bigint }> {
  const { token, jobMarket } = deployment.addresses
  const [balance, allowance] = await Promise.all([
    getTokenBalance(client, { token, account: requester }),
    readContract(client, {
      address: token,
      abi: openTokenAbi,
      functionName: 'allowance',
      args: [requester, jobMarket],
    }),
  ])
  return { balance, allowance }
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
