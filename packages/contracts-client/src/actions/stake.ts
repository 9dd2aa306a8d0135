import type { Address } from 'viem'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { callStakeManager } from './stakeManagerCall.js'

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
  return callStakeManager(client, stakeManager, { functionName: 'stake', args: [amount] }, gas)
}
