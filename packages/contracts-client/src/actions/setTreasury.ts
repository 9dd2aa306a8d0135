import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetTreasuryParameters extends WriteOptions {
  jobMarket: Address
  treasury: Address
}

export type SetTreasuryReturnType = WriteResult

/** Sets the address that receives swept fees and slashes (PARAMETERS role). */
export async function setTreasury(
  client: ProtocolWalletClient,
  { jobMarket, treasury, gas }: SetTreasuryParameters,
): Promise<SetTreasuryReturnType> {
  const { request } = await simulate('setTreasury', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setTreasury',
      args: [treasury],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setTreasury')
}
