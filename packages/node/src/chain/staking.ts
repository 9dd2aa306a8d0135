/**
 * Staking from the node account for the API's `POST /stake` and `POST /unstake`. Each goes
 * through the service's transaction queue, so it never races a role's transaction for a
 * nonce; balances are checked first, so a short balance costs no gas.
 */
import { approveToken, type Deployment, requestUnbonding, stake } from '@ocn/contracts-client'
import type { OcnChainClient } from './client.js'
import { ChainServiceError } from './errors.js'
import { readBalances } from './reads.js'

interface StakingParts {
  client: OcnChainClient
  deployment: Deployment
  serialize<T>(send: () => Promise<T>): Promise<T>
}

/** Approves and stakes `amount` OPEN; returns the stake transaction's hash. */
export async function stakeFromNode(parts: StakingParts, amount: bigint): Promise<string> {
  const { client, deployment } = parts
  const before = await readBalances(client, deployment, client.account.address)
  if (before.token < amount)
    throw new ChainServiceError(
      'CHAIN_INSUFFICIENT_FUNDS',
      `the node account holds ${before.token} OPEN base units, not the ${amount} to stake`,
      { details: 'send OPEN to the node account first' },
    )
  const { stakeManager, token } = deployment.addresses
  return parts.serialize(async () => {
    await approveToken(client, { token, spender: stakeManager, amount })
    return (await stake(client, { stakeManager, amount })).hash
  })
}

/** Starts unbonding `amount` of the free stake; returns the transaction's hash. */
export async function unstakeFromNode(parts: StakingParts, amount: bigint): Promise<string> {
  const { client, deployment } = parts
  const before = await readBalances(client, deployment, client.account.address)
  if (before.staked - before.locked < amount)
    throw new ChainServiceError(
      'CHAIN_INSUFFICIENT_FUNDS',
      `the node has ${before.staked - before.locked} OPEN base units of free stake, not the ${amount} to unstake`,
      { details: 'locked stake backs running jobs; wait for them to settle' },
    )
  const stakeManager = deployment.addresses.stakeManager
  return parts.serialize(async () => (await requestUnbonding(client, { stakeManager, amount })).hash)
}
