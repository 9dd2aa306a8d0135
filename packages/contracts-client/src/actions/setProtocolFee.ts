import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetProtocolFeeParameters extends WriteOptions {
  jobMarket: Address
  protocolFeeBps: number
}

export type SetProtocolFeeReturnType = WriteResult

/** Sets the protocol fee in basis points (PARAMETERS role). */
export async function setProtocolFee(
  client: ProtocolWalletClient,
  { jobMarket, protocolFeeBps, gas }: SetProtocolFeeParameters,
): Promise<SetProtocolFeeReturnType> {
  const { request } = await simulate('setProtocolFee', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setProtocolFee',
      args: [protocolFeeBps],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setProtocolFee')
}
