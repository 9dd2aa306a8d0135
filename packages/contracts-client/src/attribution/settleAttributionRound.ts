import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { attributionPoolAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SettleAttributionRoundParameters extends WriteOptions {
  attributionPool: Address
  modelId: Hex
}

export type SettleAttributionRoundReturnType = WriteResult & { round: bigint }

/** Freezes a model's pending fees into a new claimable round under its current weights (anyone may call). */
export async function settleAttributionRound(
  client: ProtocolWalletClient,
  { attributionPool, modelId, gas }: SettleAttributionRoundParameters,
): Promise<SettleAttributionRoundReturnType> {
  const { request, result } = await simulate('settle', () =>
    simulateContract(client, {
      address: attributionPool,
      abi: attributionPoolAbi,
      functionName: 'settle',
      args: [modelId],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return { ...(await submit(client, request, 'settle')), round: result }
}
