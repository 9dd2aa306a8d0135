import { type Address, type Hex, parseEventLogs } from 'viem'
import { simulateContract } from 'viem/actions'
import { ContractsClientError, ContractsClientErrorCode } from '../errors.js'
import { paymentChannelsAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface OpenChannelParameters extends WriteOptions {
  paymentChannels: Address
  provider: Address
  /** OPEN wei locked for the provider (needs an allowance to the PaymentChannels contract) */
  deposit: bigint
  /** seconds between the requester's startClose and its withdraw */
  closeTimeout: number
}

export interface OpenChannelReturnType extends WriteResult {
  channelId: Hex
}

/** Opens a channel from the client's account to `provider`; returns its id from the event. */
export async function openChannel(
  client: ProtocolWalletClient,
  { paymentChannels, provider, deposit, closeTimeout, gas }: OpenChannelParameters,
): Promise<OpenChannelReturnType> {
  const { request } = await simulate('open', () =>
    simulateContract(client, {
      address: paymentChannels,
      abi: paymentChannelsAbi,
      functionName: 'open',
      args: [provider, deposit, closeTimeout],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const written = await submit(client, request, 'open')
  const [opened] = parseEventLogs({
    abi: paymentChannelsAbi,
    eventName: 'ChannelOpened',
    logs: written.receipt.logs,
  })
  if (!opened) {
    throw new ContractsClientError(
      ContractsClientErrorCode.RPC,
      'open: no ChannelOpened event in the receipt',
      {
        details: written.hash,
      },
    )
  }
  return { ...written, channelId: opened.args.channelId }
}
