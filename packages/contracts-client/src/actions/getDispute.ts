import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetDisputeParameters {
  jobMarket: Address
  jobId: Hex
}

export interface GetDisputeReturnType {
  challenger: Address
  bond: bigint
  leafIndex: bigint
  claimedDataHash: Hex
}

export async function getDispute(
  client: ProtocolReadClient,
  { jobMarket, jobId }: GetDisputeParameters,
): Promise<GetDisputeReturnType> {
  return simulate('getDispute', () =>
    readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'getDispute',
      args: [jobId],
    }),
  )
}
