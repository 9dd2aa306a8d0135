import type { Address } from 'viem'
import { deployContract, waitForTransactionReceipt } from 'viem/actions'
import { DeploymentError, toContractsClientError } from '../errors.js'
import { paymentChannelsAbi, paymentChannelsBytecode } from '../generated/abis.js'
import type { ProtocolWalletClient, WriteResult } from '../types.js'

export interface DeployPaymentChannelsParameters {
  /** the OPEN token that deposits are made in */
  token: Address
}

export interface DeployPaymentChannelsReturnType extends WriteResult {
  paymentChannels: Address
}

/**
 * Deploys PaymentChannels. It has no owner and no parameters besides the token, so it is
 * deployed on its own rather than wired into the AccessManager with the market.
 */
export async function deployPaymentChannels(
  client: ProtocolWalletClient,
  { token }: DeployPaymentChannelsParameters,
): Promise<DeployPaymentChannelsReturnType> {
  let hash: Address
  try {
    hash = await deployContract(client, {
      abi: paymentChannelsAbi,
      bytecode: paymentChannelsBytecode,
      args: [token],
      account: client.account,
      chain: client.chain,
    })
  } catch (err) {
    throw toContractsClientError(err, 'deployPaymentChannels')
  }
  const receipt = await waitForTransactionReceipt(client, { hash }).catch((err: unknown) => {
    throw toContractsClientError(err, 'deployPaymentChannels')
  })
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new DeploymentError('PaymentChannels deployment failed', { details: hash })
  }
  return { hash, receipt, paymentChannels: receipt.contractAddress }
}
