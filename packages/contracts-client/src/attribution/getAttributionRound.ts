import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { attributionPoolAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetAttributionRoundParameters {
  attributionPool: Address
  modelId: Hex
  round: bigint
  /** also report whether these leaf indices have claimed */
  indices?: readonly number[]
}

export interface GetAttributionRoundReturnType {
  weightsRoot: Hex
  amount: bigint
  claimedAmount: bigint
  /** basis points claimed so far; WEIGHT_TOTAL once everyone has */
  claimedWeight: bigint
  claimed: boolean[]
}

export async function getAttributionRound(
  client: ProtocolReadClient,
  { attributionPool, modelId, round, indices = [] }: GetAttributionRoundParameters,
): Promise<GetAttributionRoundReturnType> {
  const [r, claimed] = await simulate('getRound', () =>
    Promise.all([
      readContract(client, {
        address: attributionPool,
        abi: attributionPoolAbi,
        functionName: 'getRound',
        args: [modelId, round],
      }),
      Promise.all(
        indices.map((i) =>
          readContract(client, {
            address: attributionPool,
            abi: attributionPoolAbi,
            functionName: 'isClaimed',
            args: [modelId, round, BigInt(i)],
          }),
        ),
      ),
    ]),
  )
  return { ...r, claimed }
}
