import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { ContractsClientError, ContractsClientErrorCode } from '../errors.js'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface InvalidateNoncesParameters extends WriteOptions {
  jobMarket: Address
  /** the bitmap word: nonces `word * 256` to `word * 256 + 255` */
  word: bigint
  /** bit i set: withdraw the bid signed with nonce `word * 256 + i` */
  mask: bigint
}

export type InvalidateNoncesReturnType = WriteResult

/** The word and mask that `invalidateNonces` takes for a set of nonces that share one word. */
export function nonceWordAndMask(nonces: readonly bigint[]): { word: bigint; mask: bigint } {
  const first = nonces[0]
  if (first === undefined || nonces.some((n) => n < 0n || n >> 8n !== first >> 8n)) {
    throw new ContractsClientError(
      ContractsClientErrorCode.INVALID_ARGUMENT,
      'nonceWordAndMask needs at least one non-negative nonce, all in the same 256-nonce word',
      { details: 'call invalidateNonces once per word (nonce >> 8)' },
    )
  }
  return { word: first >> 8n, mask: nonces.reduce((m, n) => m | (1n << (n & 0xffn)), 0n) }
}

/**
 * Withdraws the caller's (a provider's) signed bids by marking their nonces used: a bid whose
 * nonce is marked can no longer be awarded (`award` reverts `NonceAlreadyUsed`). Marking a
 * nonce that is already used is harmless. Emits `NoncesInvalidated`.
 */
export async function invalidateNonces(
  client: ProtocolWalletClient,
  { jobMarket, word, mask, gas }: InvalidateNoncesParameters,
): Promise<InvalidateNoncesReturnType> {
  const { request } = await simulate('invalidateNonces', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'invalidateNonces',
      args: [word, mask],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'invalidateNonces')
}
