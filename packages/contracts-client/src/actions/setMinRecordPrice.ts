import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetMinRecordPriceParameters extends WriteOptions {
  jobMarket: Address
  minRecordPrice: bigint
}

export type SetMinRecordPriceReturnType = WriteResult

/**
 * Sets the price (OPEN, at most 2^64 - 1 wei) below which a paid-out job does not count toward
 * the provider's `completed` record, for jobs awarded from now on (PARAMETERS role).
 */
export async function setMinRecordPrice(
  client: ProtocolWalletClient,
  { jobMarket, minRecordPrice, gas }: SetMinRecordPriceParameters,
): Promise<SetMinRecordPriceReturnType> {
  const { request } = await simulate('setMinRecordPrice', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setMinRecordPrice',
      args: [minRecordPrice],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setMinRecordPrice')
}
