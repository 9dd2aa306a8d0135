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

/**
 * Whether an award at `price` takes it from the requester's prepaid `balance`, exactly as the
 * JobMarket decides at award (`_storeParties`): only a non-zero balance that covers the whole
 * price is used; otherwise the balance stays untouched and the award pulls the price from the
 * requester's tokens by `transferFrom` (an allowance is needed then).
 */
export function awardDrawsFromBalance(balance: bigint, price: bigint): boolean {
  return balance !== 0n && balance >= price
}
