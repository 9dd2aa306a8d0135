import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface ResolveParameters extends WriteOptions {
  jobMarket: Address
  jobId: Hex
  providerCheated: boolean
}

export type ResolveReturnType = WriteResult

/** The arbiter's decision on a job's open dispute (ARBITER role through the AccessManager). */
export async function resolve(
  client: ProtocolWalletClient,
  { jobMarket, jobId, providerCheated, gas }: ResolveParameters,
): Promise<ResolveReturnType> {
  const { request } = await simulate('resolve', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'resolve',
      args: [jobId, providerCheated],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'resolve')
}
