import type { Address } from 'viem'
import { readContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetProviderRecordParameters {
  jobMarket: Address
  provider: Address
}

export interface GetProviderRecordReturnType {
  completed: number
  slashed: number
  noShows: number
  totalEarned: bigint
}

/** The provider's on-chain reputation record, in one call. */
export async function getProviderRecord(
  client: ProtocolReadClient,
  { jobMarket, provider }: GetProviderRecordParameters,
): Promise<GetProviderRecordReturnType> {
  return simulate('getProviderRecord', () =>
    readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'getProviderRecord',
      args: [provider],
    }),
  )
}
