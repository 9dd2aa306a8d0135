import type { Address } from 'viem'
import { readContract } from 'viem/actions'
import { openTokenAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetTokenBalanceParameters {
  token: Address
  account: Address
}

export async function getTokenBalance(
  client: ProtocolReadClient,
  { token, account }: GetTokenBalanceParameters,
): Promise<bigint> {
  return simulate('balanceOf', () =>
    readContract(client, { address: token, abi: openTokenAbi, functionName: 'balanceOf', args: [account] }),
  )
}
