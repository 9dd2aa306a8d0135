import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { paymentChannelsAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface WithdrawChannelParameters extends WriteOptions {
  paymentChannels: Address
  channelId: Hex
}

export type WithdrawChannelReturnType = WriteResult

/** Requester, after the close timeout: finalizes the channel and recovers the unspent deposit. */
export async function withdrawChannel(
  client: ProtocolWalletClient,
  { paymentChannels, channelId, gas }: WithdrawChannelParameters,
): Promise<WithdrawChannelReturnType> {
  const { request } = await simulate('withdraw', () =>
    simulateContract(client, {
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: 'withdraw',
      args: [channelId],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'withdraw')
}
