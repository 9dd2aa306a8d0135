import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetChallengerRewardShareParameters extends WriteOptions {
  jobMarket: Address
  challengerRewardBps: number
}

export type SetChallengerRewardShareReturnType = WriteResult

/** Sets the challenger's share of a cheat slash in basis points (PARAMETERS role). */
export async function setChallengerRewardShare(
  client: ProtocolWalletClient,
  { jobMarket, challengerRewardBps, gas }: SetChallengerRewardShareParameters,
): Promise<SetChallengerRewardShareReturnType> {
  const { request } = await simulate('setChallengerRewardShare', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setChallengerRewardShare',
      args: [challengerRewardBps],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setChallengerRewardShare')
}
