import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SweepTreasuryParameters extends WriteOptions {
  jobMarket: Address
}

export type SweepTreasuryReturnType = WriteResult

/** Sends the protocol fees and slashes accrued in the JobMarket to the treasury. */
export async function sweepTreasury(
  client: ProtocolWalletClient,
  { jobMarket, gas }: SweepTreasuryParameters,
): Promise<SweepTreasuryReturnType> {
  const { request } = await simulate('sweepTreasury', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'sweepTreasury',
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'sweepTreasury')
}
