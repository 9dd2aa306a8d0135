import type { Address } from 'viem'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { callStakeManager } from './stakeManagerCall.js'

export interface RequestUnbondingParameters extends WriteOptions {
  stakeManager: Address
  amount: bigint
}

export type RequestUnbondingReturnType = WriteResult

/** Moves free stake into unbonding; it can be withdrawn after the unbonding delay. */
export async function requestUnbonding(
  client: ProtocolWalletClient,
  { stakeManager, amount, gas }: RequestUnbondingParameters,
): Promise<RequestUnbondingReturnType> {
  return callStakeManager(client, stakeManager, { functionName: 'requestUnbonding', args: [amount] }, gas)
}
