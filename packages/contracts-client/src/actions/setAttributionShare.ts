import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetAttributionShareParameters extends WriteOptions {
  jobMarket: Address
  attributionShareBps: number
}

export type SetAttributionShareReturnType = WriteResult

/**
 * Sets the share of each paid-out job's price that goes to the AttributionPool when the job's
 * model has weights there, in basis points (PARAMETERS role). Applies to jobs awarded afterwards;
 * reverts `InvalidParameter("attributionShareBps")` above MAX_ATTRIBUTION_SHARE_BPS (5 000) or
 * when it and the protocol fee add up to more than 10 000.
 */
export async function setAttributionShare(
  client: ProtocolWalletClient,
  { jobMarket, attributionShareBps, gas }: SetAttributionShareParameters,
): Promise<SetAttributionShareReturnType> {
  const { request } = await simulate('setAttributionShare', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setAttributionShare',
      args: [attributionShareBps],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setAttributionShare')
}
