import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { attributionPoolAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface DepositAttributionFeesParameters extends WriteOptions {
  attributionPool: Address
  /** the model the fees were paid for */
  modelId: Hex
  amount: bigint
}

export type DepositAttributionFeesReturnType = WriteResult

/** Adds OPEN to a model's pending attribution fees (needs an allowance to the pool; see `approveToken`). */
export async function depositAttributionFees(
  client: ProtocolWalletClient,
  { attributionPool, modelId, amount, gas }: DepositAttributionFeesParameters,
): Promise<DepositAttributionFeesReturnType> {
  const { request } = await simulate('deposit', () =>
    simulateContract(client, {
      address: attributionPool,
      abi: attributionPoolAbi,
      functionName: 'deposit',
      args: [modelId, amount],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'deposit')
}
