import type { Address } from 'viem'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { callStakeManager } from './stakeManagerCall.js'

export interface WithdrawStakeParameters extends WriteOptions {
  stakeManager: Address
}

export type WithdrawStakeReturnType = WriteResult

/** Withdraws all unbonded stake once the unbonding delay has passed. */
export async function withdrawStake(
  client: ProtocolWalletClient,
  { stakeManager, gas }: WithdrawStakeParameters,
): Promise<WithdrawStakeReturnType> {
  return callStakeManager(client, stakeManager, { functionName: 'withdraw' }, gas)
}
