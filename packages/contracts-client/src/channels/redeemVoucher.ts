import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { paymentChannelsAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface RedeemVoucherParameters extends WriteOptions {
  paymentChannels: Address
  channelId: Hex
  cumulativeAmount: bigint
  /** the requester's EIP-712 signature over the voucher */
  signature: Hex
}

export type RedeemVoucherReturnType = WriteResult

/**
 * Pays the provider what the voucher adds over what was already redeemed (provider only).
 * An older or replayed voucher reverts with VoucherNotNewer; one above the deposit with
 * VoucherOverspent.
 */
export async function redeemVoucher(
  client: ProtocolWalletClient,
  { paymentChannels, channelId, cumulativeAmount, signature, gas }: RedeemVoucherParameters,
): Promise<RedeemVoucherReturnType> {
  const { request } = await simulate('redeem', () =>
    simulateContract(client, {
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: 'redeem',
      args: [channelId, cumulativeAmount, signature],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'redeem')
}
