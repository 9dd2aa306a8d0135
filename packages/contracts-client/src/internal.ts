import type { Abi, Hash } from 'viem'
import { waitForTransactionReceipt, writeContract } from 'viem/actions'
import { ContractRevertError, toContractsClientError } from './errors.js'
import type { ProtocolWalletClient, WriteResult } from './types.js'

/**
 * Sends a simulated request and waits for it to be mined. Simulation runs first in every
 * write action so a revert is decoded (name and args) before any gas is spent; a receipt
 * with status reverted (a race with another transaction) is reported the same way.
 */
export async function submit(
  client: ProtocolWalletClient,
  // the request object simulateContract returned; its precise type is checked at the call site
  request: unknown,
  functionName: string,
): Promise<WriteResult> {
  let hash: Hash
  try {
    hash = await writeContract(client, request as Parameters<typeof writeContract>[1])
  } catch (err) {
    throw toContractsClientError(err, functionName)
  }
  const receipt = await waitForTransactionReceipt(client, { hash }).catch((err: unknown) => {
    throw toContractsClientError(err, functionName)
  })
  if (receipt.status !== 'success') {
    throw new ContractRevertError({ errorName: 'TransactionReverted', args: [hash], functionName })
  }
  return { hash, receipt }
}

/** Runs a simulation, turning any revert into a ContractRevertError. */
export async function simulate<T>(functionName: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    throw toContractsClientError(err, functionName)
  }
}

export type { Abi }
