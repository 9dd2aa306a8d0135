import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { stakeManagerAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetUnbondingDelayParameters extends WriteOptions {
  stakeManager: Address
  unbondingDelay: bigint
}

export type SetUnbondingDelayReturnType = WriteResult

/** Sets the unbonding delay in seconds; at least the challenge window (PARAMETERS role). */
export async function setUnbondingDelay(
  client: ProtocolWalletClient,
  { stakeManager, unbondingDelay, gas }: SetUnbondingDelayParameters,
): Promise<SetUnbondingDelayReturnType> {
  const { request } = await simulate('setUnbondingDelay', () =>
    simulateContract(client, {
      address: stakeManager,
      abi: stakeManagerAbi,
      functionName: 'setUnbondingDelay',
      args: [unbondingDelay],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setUnbondingDelay')
}
