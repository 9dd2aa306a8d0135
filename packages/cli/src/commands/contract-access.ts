/**
 * Opens the chain for a command that talks to one optional contract of the deployment (the
 * DatanetRegistry, the ModelRegistry): signing with the node's keys, or reading as its address,
 * and a typed error naming the fix when the deployment lacks that contract.
 */
import { readNodeKeyInfo } from '@ocn/node'
import type { Address } from 'viem'
import type { CommandContext } from '../command.js'
import { loadConfigFor } from '../context.js'
import { loadKeysFor } from './account.js'
import { type ChainAccess, ChainCommandError, openChain } from './chain-access.js'

type OptionalContract = 'datanetRegistry' | 'modelRegistry'

export async function openDeployedContract(
  context: CommandContext,
  sign: boolean,
  contract: OptionalContract,
  label: string,
): Promise<{ access: ChainAccess; registry: Address }> {
  const { config } = await loadConfigFor(context)
  const account = sign
    ? (await loadKeysFor(context, config.dataDir)).account
    : ((await readNodeKeyInfo(config.dataDir)).address as Address)
  const access = await openChain(config, account)
  const registry = access.deployment.addresses[contract]
  if (registry === undefined) {
    throw new ChainCommandError('CHAIN_DEPLOYMENT_INVALID', `the deployment has no ${label}`, {
      details: 'redeploy with a current @ocn/contracts-client (deployProtocol deploys it)',
    })
  }
  return { access, registry }
}
