import type { Abi, Address, ContractConstructorArgs, Hash, Hex, TransactionReceipt } from 'viem'
import { deployContract, waitForTransactionReceipt, writeContract } from 'viem/actions'
import { ContractRevertError, toContractsClientError } from './errors.js'
import { accessManagerAbi } from './generated/abis.js'
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
  onSent?: (hash: Hash) => void | Promise<void>,
): Promise<WriteResult> {
  let hash: Hash
  try {
    hash = await writeContract(client, request as Parameters<typeof writeContract>[1])
  } catch (err) {
    throw toContractsClientError(err, functionName)
  }
  await onSent?.(hash)
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

/**
 * The steps of a deployment script, each mined before the next is sent (so nonces are
 * sequential and addresses predictable), failing with the script's own error class.
 */
export function deploymentSteps(
  client: ProtocolWalletClient,
  fail: (message: string, details?: string) => Error,
): {
  mined: (hash: Hex, what: string) => Promise<TransactionReceipt>
  deploy: <const TAbi extends Abi>(
    what: string,
    contract: { abi: TAbi; bytecode: Hex; args: ContractConstructorArgs<TAbi>; nonce?: number },
  ) => Promise<Address>
  manage: (accessManager: Address, functionName: AccessManagerCall, args: readonly unknown[]) => Promise<void>
} {
  const mined = async (hash: Hex, what: string) => {
    const receipt = await waitForTransactionReceipt(client, { hash })
    if (receipt.status !== 'success') throw fail(`${what} reverted`, hash)
    return receipt
  }
  const deploy = async <const TAbi extends Abi>(
    what: string,
    contract: { abi: TAbi; bytecode: Hex; args: ContractConstructorArgs<TAbi>; nonce?: number },
  ): Promise<Address> => {
    const hash = await deployContract(client, {
      ...contract,
      account: client.account,
      chain: client.chain,
    } as Parameters<typeof deployContract>[1])
    const receipt = await mined(hash, what)
    if (!receipt.contractAddress) throw fail(`${what}: no contract address in receipt`)
    return receipt.contractAddress
  }
  const manage = async (
    accessManager: Address,
    functionName: AccessManagerCall,
    args: readonly unknown[],
  ) => {
    const hash = await writeContract(client, {
      address: accessManager,
      abi: accessManagerAbi,
      functionName,
      args,
      account: client.account,
      chain: client.chain,
    } as Parameters<typeof writeContract>[1])
    await mined(hash, `AccessManager.${functionName}`)
  }
  return { mined, deploy, manage }
}

/** The AccessManager calls deployment scripts make. */
export type AccessManagerCall = 'setTargetFunctionRole' | 'grantRole' | 'revokeRole' | 'renounceRole'
