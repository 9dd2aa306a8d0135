import { type BidTerms, bidTypedData, type MarketDomain } from '@ocn/protocol'
import type { Hex } from 'viem'
import { signTypedData } from 'viem/actions'
import type { ProtocolWalletClient } from '../types.js'

export interface SignBidParameters {
  /** chain id and JobMarket address */
  domain: MarketDomain
  /** `bid.provider` must be the client's account (the provider's staking address) */
  bid: BidTerms
}

export type SignBidReturnType = Hex

/** Signs a bid as EIP-712 typed data with the provider's staking account. */
export async function signBid(
  client: ProtocolWalletClient,
  { domain, bid }: SignBidParameters,
): Promise<SignBidReturnType> {
  return signTypedData(client, { ...bidTypedData(domain, bid), account: client.account })
}
