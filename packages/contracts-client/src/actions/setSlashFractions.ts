import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetSlashFractionsParameters extends WriteOptions {
  jobMarket: Address
  cheatSlashBps: number
  noShowSlashBps: number
}

export type SetSlashFractionsReturnType = WriteResult

/** Sets the fractions of collateral slashed for cheating and for no-shows (PARAMETERS role). */
export async function setSlashFractions(
  client: ProtocolWalletClient,
  { jobMarket, cheatSlashBps, noShowSlashBps, gas }: SetSlashFractionsParameters,
): Promise<SetSlashFractionsReturnType> {
  const { request } = await simulate('setSlashFractions', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'setSlashFractions',
      args: [cheatSlashBps, noShowSlashBps],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setSlashFractions')
}
