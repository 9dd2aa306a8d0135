import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { paymentChannelsAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface TopUpChannelParameters extends WriteOptions {
  paymentChannels: Address
  channelId: Hex
  /** OPEN wei added to the deposit (needs an allowance) */
  amount: bigint
}

export type TopUpChannelReturnType = WriteResult

/** Adds to an open channel's deposit (requester only; not once a close started). */
export async function topUpChannel(
  client: ProtocolWalletClient,
  { paymentChannels, channelId, amount, gas }: TopUpChannelParameters,
): Promise<TopUpChannelReturnType> {
  const { request } = await simulate('topUp', () =>
    simulateContract(client, {
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: 'topUp',
      args: [channelId, amount],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'topUp')
}
