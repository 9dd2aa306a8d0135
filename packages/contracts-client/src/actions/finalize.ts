import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface FinalizeParameters extends WriteOptions {
  jobMarket: Address
  jobId: Hex
}

export type FinalizeReturnType = WriteResult

/** Settles a committed job after its challenge window: pays the provider, unlocks collateral. */
export async function finalize(
  client: ProtocolWalletClient,
  { jobMarket, jobId, gas, onSent }: FinalizeParameters,
): Promise<FinalizeReturnType> {
  const { request } = await simulate('finalize', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'finalize',
      args: [jobId],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'finalize', onSent)
}
