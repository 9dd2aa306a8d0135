import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { stakeManagerAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface WithdrawStakeParameters extends WriteOptions {
  stakeManager: Address
}

export type WithdrawStakeReturnType = WriteResult

/** Withdraws all unbonded stake once the unbonding delay has passed. */
export async function withdrawStake(
  client: ProtocolWalletClient,
  { stakeManager, gas }: WithdrawStakeParameters,
): Promise<WithdrawStakeReturnType> {
  const { request } = await simulate('withdraw', () =>
    simulateContract(client, {
      address: stakeManager,
      abi: stakeManagerAbi,
      functionName: 'withdraw',
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'withdraw')
}
