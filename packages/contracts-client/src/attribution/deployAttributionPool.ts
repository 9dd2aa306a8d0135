import type { Address, Hex } from 'viem'
import { deployContract, waitForTransactionReceipt } from 'viem/actions'
import { DeploymentError, toContractsClientError } from '../errors.js'
import { attributionPoolAbi, attributionPoolBytecode } from '../generated/abis.js'
import type { ProtocolWalletClient } from '../types.js'

export interface DeployAttributionPoolParameters {
  /** the AccessManager that decides who may call `setWeights` */
  accessManager: Address
  /** the OPEN token fees are paid in */
  token: Address
}

export interface DeployAttributionPoolReturnType {
  attributionPool: Address
  hash: Hex
}

/**
 * Deploys an AttributionPool. `setWeights` is `restricted`: until the AccessManager admin maps
 * its selector to a role (see `attributionPoolSelectors`), only the admin role may call it.
 */
export async function deployAttributionPool(
  client: ProtocolWalletClient,
  { accessManager, token }: DeployAttributionPoolParameters,
): Promise<DeployAttributionPoolReturnType> {
  let hash: Hex
  try {
    hash = await deployContract(client, {
      abi: attributionPoolAbi,
      bytecode: attributionPoolBytecode,
      args: [accessManager, token],
      account: client.account,
      chain: client.chain,
    })
  } catch (err) {
    throw toContractsClientError(err, 'deploy AttributionPool')
  }
  const receipt = await waitForTransactionReceipt(client, { hash }).catch((err: unknown) => {
    throw toContractsClientError(err, 'deploy AttributionPool')
  })
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new DeploymentError('AttributionPool deployment reverted', { details: hash })
  }
  return { attributionPool: receipt.contractAddress, hash }
}
