import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { paymentChannelsAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface CloseByProviderParameters extends WriteOptions {
  paymentChannels: Address
  channelId: Hex
  /** the final voucher; pass the already-paid amount and '0x' to close without redeeming */
  cumulativeAmount: bigint
  signature: Hex
}

export type CloseByProviderReturnType = WriteResult

/** Redeems the final voucher and finalizes at once, refunding the rest to the requester. */
export async function closeByProvider(
  client: ProtocolWalletClient,
  { paymentChannels, channelId, cumulativeAmount, signature, gas }: CloseByProviderParameters,
): Promise<CloseByProviderReturnType> {
  const { request } = await simulate('closeByProvider', () =>
    simulateContract(client, {
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: 'closeByProvider',
      args: [channelId, cumulativeAmount, signature],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'closeByProvider')
}
