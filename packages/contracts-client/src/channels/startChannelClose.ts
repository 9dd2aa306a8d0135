import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { paymentChannelsAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface StartChannelCloseParameters extends WriteOptions {
  paymentChannels: Address
  channelId: Hex
}

export type StartChannelCloseReturnType = WriteResult

/** Requester: starts the close timeout, after which `withdrawChannel` refunds the rest. */
export async function startChannelClose(
  client: ProtocolWalletClient,
  { paymentChannels, channelId, gas }: StartChannelCloseParameters,
): Promise<StartChannelCloseReturnType> {
  const { request } = await simulate('startClose', () =>
    simulateContract(client, {
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: 'startClose',
      args: [channelId],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'startClose')
}
