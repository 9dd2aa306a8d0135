import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface ExpireParameters extends WriteOptions {
  jobMarket: Address
  jobId: Hex
}

export type ExpireReturnType = WriteResult

/** Settles a job whose provider never committed: refunds the requester, slashes the no-show. */
export async function expire(
  client: ProtocolWalletClient,
  { jobMarket, jobId, gas }: ExpireParameters,
): Promise<ExpireReturnType> {
  const { request } = await simulate('expire', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'expire',
      args: [jobId],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'expire')
}
