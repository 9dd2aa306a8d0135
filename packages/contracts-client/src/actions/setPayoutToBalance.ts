import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetPayoutToBalanceParameters extends WriteOptions {
  jobMarket: Address
  /** true: payouts of jobs awarded from now on are credited to the balance; false: transferred. */
  enabled: boolean
}

export type SetPayoutToBalanceReturnType = WriteResult

/**
 * Chooses how the caller, as a provider, is paid for jobs awarded to it from now on: credited
 * to its JobMarket balance (no token transfer at settlement, about 17 000 gas less per
 * finalize; cash out with `withdrawBalance`) or transferred (the default). A job already
 * awarded keeps the choice in force at its award.
 */
export async function setPayoutToBalance(
  client: ProtocolWalletClient,
  { jobMarket, enabled, gas, onSent }: SetPayoutToBalanceParameters,
): Promise<SetPayoutToBalanceReturnType> {
  const { request } = await simulate('setPayoutToBalance', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setPayoutToBalance',
      args: [enabled],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setPayoutToBalance', onSent)
}
