import type { Address } from 'viem'
import { readContract } from 'viem/actions'
import { stakeManagerAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetStakeParameters {
  stakeManager: Address
  account: Address
}

export interface GetStakeReturnType {
  /** total stake, locked collateral included, unbonding excluded */
  staked: bigint
  locked: bigint
  free: bigint
  unbonding: bigint
  /** unix seconds when `unbonding` can be withdrawn (0 when nothing unbonds) */
  unbondingReadyAt: bigint
}

export async function getStake(
  client: ProtocolReadClient,
  { stakeManager, account }: GetStakeParameters,
): Promise<GetStakeReturnType> {
  const [[staked, locked, free], [unbonding, readyAt]] = await simulate('stakeOf', () =>
    Promise.all([
      readContract(client, {
        address: stakeManager,
        abi: stakeManagerAbi,
        functionName: 'stakeOf',
        args: [account],
      }),
      readContract(client, {
        address: stakeManager,
        abi: stakeManagerAbi,
        functionName: 'unbondingOf',
        args: [account],
      }),
    ]),
  )
  return { staked, locked, free, unbonding, unbondingReadyAt: readyAt }
}
