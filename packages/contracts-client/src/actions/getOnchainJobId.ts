import type { OfferTerms } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetOnchainJobIdParameters {
  jobMarket: Address
  offer: OfferTerms
}

/** The job id as the contract computes it (equals `jobIdOf(offer)` from @ocn/protocol). */
export async function getOnchainJobId(
  client: ProtocolReadClient,
  { jobMarket, offer }: GetOnchainJobIdParameters,
): Promise<Hex> {
  return simulate('hashJobOffer', () =>
    readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'hashJobOffer',
      args: [offer],
    }),
  )
}
