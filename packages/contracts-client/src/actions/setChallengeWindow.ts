import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetChallengeWindowParameters extends WriteOptions {
  jobMarket: Address
  challengeWindow: number
}

export type SetChallengeWindowReturnType = WriteResult

/** Sets the challenge window in seconds; at most the unbonding delay (PARAMETERS role). */
export async function setChallengeWindow(
  client: ProtocolWalletClient,
  { jobMarket, challengeWindow, gas }: SetChallengeWindowParameters,
): Promise<SetChallengeWindowReturnType> {
  const { request } = await simulate('setChallengeWindow', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setChallengeWindow',
      args: [challengeWindow],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setChallengeWindow')
}
