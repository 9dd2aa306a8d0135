import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { attributionPoolAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface ClaimAttributionParameters extends WriteOptions {
  attributionPool: Address
  modelId: Hex
  round: bigint
  /** the contributor's leaf index in the weights tree */
  index: number
  /** the leaf's address: it receives the payout whoever sends the claim */
  account: Address
  /** basis points */
  weight: number
  proof: readonly Hex[]
}

export type ClaimAttributionReturnType = WriteResult & { paid: bigint }

/** Claims one contributor's share of one round; reverts with AlreadyClaimed or InvalidProof. */
export async function claimAttribution(
  client: ProtocolWalletClient,
  { attributionPool, modelId, round, index, account, weight, proof, gas }: ClaimAttributionParameters,
): Promise<ClaimAttributionReturnType> {
  const { request, result } = await simulate('claim', () =>
    simulateContract(client, {
      address: attributionPool,
      abi: attributionPoolAbi,
      functionName: 'claim',
      args: [modelId, round, BigInt(index), account, BigInt(weight), proof],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return { ...(await submit(client, request, 'claim')), paid: result }
}
