import type { Address } from 'viem'
import { readContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetMarketAccountParameters {
  jobMarket: Address
  account: Address
}

export interface GetMarketAccountReturnType {
  /** OPEN wei the account can withdraw, and that awards draw from first. */
  balance: bigint
  /** whether jobs awarded to the account from now on pay out to `balance` */
  payoutToBalance: boolean
}

/** The account's prepaid and withdrawable balance in the JobMarket and its payout choice. */
export async function getMarketAccount(
  client: ProtocolReadClient,
  { jobMarket, account }: GetMarketAccountParameters,
): Promise<GetMarketAccountReturnType> {
  const [balance, payoutToBalance] = await simulate('getAccount', () =>
    readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'getAccount',
      args: [account],
    }),
  )
  return { balance, payoutToBalance }
}
