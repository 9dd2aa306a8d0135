import type { Address } from 'viem'
import { readContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface IsNonceUsedParameters {
  jobMarket: Address
  provider: Address
  nonce: bigint
}

export async function isNonceUsed(
  client: ProtocolReadClient,
  { jobMarket, provider, nonce }: IsNonceUsedParameters,
): Promise<boolean> {
  return simulate('isNonceUsed', () =>
    readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'isNonceUsed',
      args: [provider, nonce],
    }),
  )
}
