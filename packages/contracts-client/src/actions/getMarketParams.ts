import type { Address } from 'viem'
import { readContract } from 'viem/actions'
import { jobMarketAbi, stakeManagerAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetMarketParamsParameters {
  jobMarket: Address
  stakeManager: Address
}

export interface GetMarketParamsReturnType {
  protocolFeeBps: number
  cheatSlashBps: number
  noShowSlashBps: number
  challengerRewardBps: number
  challengeWindow: number
  treasuryAccrued: bigint
  verifierMinStake: bigint
  unbondingDelay: bigint
  treasury: Address
  /** share of a paid-out job's price sent to the attribution pool (models with weights only), basis points */
  attributionShareBps: number
  /** where attribution shares go (the zero address: none) */
  attributionPool: Address
  /** OPEN: jobs awarded from now on below this price are paid but do not raise `completed` */
  minRecordPrice: bigint
}

export async function getMarketParams(
  client: ProtocolReadClient,
  { jobMarket, stakeManager }: GetMarketParamsParameters,
): Promise<GetMarketParamsReturnType> {
  const [
    params,
    verifierMinStake,
    unbondingDelay,
    treasury,
    attributionShareBps,
    attributionPool,
    minRecordPrice,
  ] = await simulate('params', () =>
    Promise.all([
      readContract(client, { address: jobMarket, abi: jobMarketAbi, functionName: 'params' }),
      readContract(client, { address: jobMarket, abi: jobMarketAbi, functionName: 'verifierMinStake' }),
      readContract(client, { address: stakeManager, abi: stakeManagerAbi, functionName: 'unbondingDelay' }),
      readContract(client, { address: jobMarket, abi: jobMarketAbi, functionName: 'treasury' }),
      readContract(client, { address: jobMarket, abi: jobMarketAbi, functionName: 'attributionShareBps' }),
      readContract(client, { address: jobMarket, abi: jobMarketAbi, functionName: 'attributionPool' }),
      readContract(client, { address: jobMarket, abi: jobMarketAbi, functionName: 'minRecordPrice' }),
    ]),
  )
  return {
    ...params,
    verifierMinStake,
    unbondingDelay,
    treasury,
    attributionShareBps,
    attributionPool,
    minRecordPrice,
  }
}
