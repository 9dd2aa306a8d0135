import type { MarketDomain } from '@ocn/protocol'
import type { Address } from 'viem'
import { getChainId } from 'viem/actions'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetMarketDomainParameters {
  jobMarket: Address
}

/** The EIP-712 domain bids for this JobMarket are signed under. */
export async function getMarketDomain(
  client: ProtocolReadClient,
  { jobMarket }: GetMarketDomainParameters,
): Promise<MarketDomain> {
  const chainId = await simulate('getChainId', () => getChainId(client))
  return { chainId, verifyingContract: jobMarket }
}
