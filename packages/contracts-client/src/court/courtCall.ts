import type { Address, ContractFunctionArgs, ContractFunctionName, Hash } from 'viem'
import { simulateContract } from 'viem/actions'
import { disputeCourtAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteResult } from '../types.js'

/** A state-changing DisputeCourt function. */
export type CourtWriteFunction = ContractFunctionName<typeof disputeCourtAbi, 'nonpayable'>

/**
 * Simulates a DisputeCourt call from the client's account (so a revert is decoded, name and
 * arguments, before any gas is spent), then sends it and waits for the receipt. The body of
 * every court write action.
 */
export async function callCourt<F extends CourtWriteFunction>(
  client: ProtocolWalletClient,
  court: Address,
  functionName: F,
  args: ContractFunctionArgs<typeof disputeCourtAbi, 'nonpayable', F>,
  gas: bigint | undefined,
  onSent?: (hash: Hash) => void | Promise<void>,
): Promise<WriteResult> {
  const { request } = await simulate(functionName, () =>
    simulateContract(client, {
      address: court,
      abi: disputeCourtAbi,
      functionName,
      args,
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    } as Parameters<typeof simulateContract>[1]),
  )
  return submit(client, request, functionName, onSent)
}
