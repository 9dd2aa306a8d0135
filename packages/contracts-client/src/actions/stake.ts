import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { stakeManagerAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface StakeParameters extends WriteOptions {
  stakeManager: Address
  amount: bigint
}

export type StakeReturnType = WriteResult

/** Stakes `amount` OPEN (needs an allowance to the StakeManager; see `approveToken`). */
export async function stake(
  client: ProtocolWalletClient,
  { stakeManager, amount, gas }: StakeParameters,
): Promise<StakeReturnType> {
  const { request } = await simulate('stake', () =>
    simulateContract(client, {
      address: stakeManager,
      abi: stakeManagerAbi,
      functionName: 'stake',
      args: [amount],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'stake')
}
