import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { openTokenAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface TransferTokenParameters extends WriteOptions {
  token: Address
  to: Address
  amount: bigint
}

export type TransferTokenReturnType = WriteResult

/** Transfers OPEN (used to fund accounts on a dev chain). */
export async function transferToken(
  client: ProtocolWalletClient,
  { token, to, amount, gas }: TransferTokenParameters,
): Promise<TransferTokenReturnType> {
  const { request } = await simulate('transfer', () =>
    simulateContract(client, {
      address: token,
      abi: openTokenAbi,
      functionName: 'transfer',
      args: [to, amount],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'transfer')
}
