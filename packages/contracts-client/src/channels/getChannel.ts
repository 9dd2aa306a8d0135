import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { paymentChannelsAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetChannelParameters {
  paymentChannels: Address
  channelId: Hex
}

export interface ChannelState {
  requester: Address
  provider: Address
  deposit: bigint
  /** cumulative amount redeemed so far */
  paid: bigint
  closeTimeout: number
  /** unix seconds when the requester may withdraw; 0 while no close was started */
  closesAt: number
  finalized: boolean
}

/** undefined when no channel has that id */
export type GetChannelReturnType = ChannelState | undefined

export async function getChannel(
  client: ProtocolReadClient,
  { paymentChannels, channelId }: GetChannelParameters,
): Promise<GetChannelReturnType> {
  const channel = await simulate('getChannel', () =>
    readContract(client, {
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: 'getChannel',
      args: [channelId],
    }),
  )
  if (channel.requester === '0x0000000000000000000000000000000000000000') return undefined
  return {
    requester: channel.requester,
    provider: channel.provider,
    deposit: channel.deposit,
    paid: channel.paid,
    closeTimeout: channel.closeTimeout,
    closesAt: channel.closesAt,
    finalized: channel.finalized,
  }
}

export interface GetChannelsDomainParameters {
  paymentChannels: Address
}

/** The EIP-712 domain vouchers for this contract are signed under (chain id from the contract). */
export async function getChannelsDomain(
  client: ProtocolReadClient,
  { paymentChannels }: GetChannelsDomainParameters,
): Promise<{ chainId: number; verifyingContract: Address }> {
  const [, , , chainId, verifyingContract] = await simulate('eip712Domain', () =>
    readContract(client, { address: paymentChannels, abi: paymentChannelsAbi, functionName: 'eip712Domain' }),
  )
  return { chainId: Number(chainId), verifyingContract }
}

export type { Hex }
