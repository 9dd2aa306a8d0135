import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetMinChallengeBondParameters extends WriteOptions {
  jobMarket: Address
  bond: bigint
}

export type SetMinChallengeBondReturnType = WriteResult

/** Sets the bond a challenger posts (PARAMETERS role). */
export async function setMinChallengeBond(
  client: ProtocolWalletClient,
  { jobMarket, bond, gas }: SetMinChallengeBondParameters,
): Promise<SetMinChallengeBondReturnType> {
  const { request } = await simulate('setMinChallengeBond', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setMinChallengeBond',
      args: [bond],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setMinChallengeBond')
}
