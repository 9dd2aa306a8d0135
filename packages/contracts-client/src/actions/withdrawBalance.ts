import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface WithdrawBalanceParameters extends WriteOptions {
  jobMarket: Address
  /** OPEN wei to take out; more than the balance reverts `InsufficientMarketBalance`. */
  amount: bigint
}

export type WithdrawBalanceReturnType = WriteResult

/**
 * Sends part of the caller's JobMarket balance (deposits, refunds of jobs paid from it, payouts
 * credited to it) to the caller. `getMarketAccount` reads what is there.
 */
export async function withdrawBalance(
  client: ProtocolWalletClient,
  { jobMarket, amount, gas, onSent }: WithdrawBalanceParameters,
): Promise<WithdrawBalanceReturnType> {
  const { request } = await simulate('withdraw', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'withdraw',
      args: [amount],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'withdraw', onSent)
}
