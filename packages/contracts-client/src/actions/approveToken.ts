import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { openTokenAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface ApproveTokenParameters extends WriteOptions {
  token: Address
  spender: Address
  amount: bigint
}

export type ApproveTokenReturnType = WriteResult

/** Approves `spender` (the StakeManager or the JobMarket) to pull `amount` OPEN. */
export async function approveToken(
  client: ProtocolWalletClient,
  { token, spender, amount, gas }: ApproveTokenParameters,
): Promise<ApproveTokenReturnType> {
  const { request } = await simulate('approve', () =>
    simulateContract(client, {
      address: token,
      abi: openTokenAbi,
      functionName: 'approve',
      args: [spender, amount],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'approve')
}
