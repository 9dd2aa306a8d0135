import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { stakeManagerAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

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
  const { request } = await simulate('requestUnbonding', () =>
    simulateContract(client, {
      address: stakeManager,
      abi: stakeManagerAbi,
      functionName: 'requestUnbonding',
      args: [amount],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'requestUnbonding')
}
