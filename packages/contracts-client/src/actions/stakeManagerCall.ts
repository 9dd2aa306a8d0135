import type { Address } from 'viem'
import { simulateContract } from 'viem/actions'
import { stakeManagerAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteResult } from '../types.js'

/** The StakeManager calls an account makes on its own stake. */
export type StakeManagerCall =
  | { functionName: 'stake' | 'requestUnbonding'; args: readonly [amount: bigint] }
  | { functionName: 'withdraw' }

/**
 * Simulates a StakeManager call from the client's account (so a revert is decoded before
 * any gas is spent), then sends it and waits for the receipt. The body of `stake`,
 * `requestUnbonding` and `withdrawStake`; not exported from the package.
 */
export async function callStakeManager(
  client: ProtocolWalletClient,
  stakeManager: Address,
  call: StakeManagerCall,
  gas: bigint | undefined,
): Promise<WriteResult> {
  const { request } = await simulate(call.functionName, () =>
    simulateContract(client, {
      address: stakeManager,
      abi: stakeManagerAbi,
      ...call,
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, call.functionName)
}
