import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetVerifierMinStakeParameters extends WriteOptions {
  jobMarket: Address
  stake: bigint
}

export type SetVerifierMinStakeReturnType = WriteResult

/** Sets the stake a verifier needs to challenge (PARAMETERS role). */
export async function setVerifierMinStake(
  client: ProtocolWalletClient,
  { jobMarket, stake, gas }: SetVerifierMinStakeParameters,
): Promise<SetVerifierMinStakeReturnType> {
  const { request } = await simulate('setVerifierMinStake', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setVerifierMinStake',
      args: [stake],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setVerifierMinStake')
}
