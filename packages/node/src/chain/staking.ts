/**
 * Staking from the node account for the API's `POST /stake` and `POST /unstake`, and its
 * prepaid market balance for `POST /deposit` and `POST /withdraw`. Each goes through the
 * service's transaction queue, so it never races a role's transaction for a nonce; balances
 * are checked first, so a short balance costs no gas.
 */
import {
  approveToken,
  type Deployment,
  depositBalance,
  requestUnbonding,
  stake,
  withdrawBalance,
} from '@ocn/contracts-client'
import type { OcnChainClient } from './client.js'
import { ChainServiceError } from './errors.js'
import { readBalances, readRequesterFunds } from './reads.js'

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

/**
 * Pays `amount` OPEN into the node account's market balance; returns the deposit's hash. The
 * allowance is raised by `amount` (not set to it), so what the requester role approved for its
 * open offers stays approved once the deposit has spent its part.
 */
export async function depositFromNode(parts: StakingParts, amount: bigint): Promise<string> {
  const { client, deployment } = parts
  const { token, jobMarket } = deployment.addresses
  return parts.serialize(async () => {
    const funds = await readRequesterFunds(client, deployment, client.account.address)
    if (funds.balance < amount)
      throw new ChainServiceError(
        'CHAIN_INSUFFICIENT_FUNDS',
        `the node account holds ${funds.balance} OPEN base units, not the ${amount} to deposit`,
        { details: 'send OPEN to the node account first' },
      )
    await approveToken(client, { token, spender: jobMarket, amount: funds.allowance + amount })
    return (await depositBalance(client, { jobMarket, amount })).hash
  })
}

/** Sends `amount` of the node account's market balance back to it; returns the transaction's hash. */
export async function withdrawFromNode(parts: StakingParts, amount: bigint): Promise<string> {
  const { client, deployment } = parts
  const jobMarket = deployment.addresses.jobMarket
  return parts.serialize(async () => {
    const { market } = await readRequesterFunds(client, deployment, client.account.address)
    if (market < amount)
      throw new ChainServiceError(
        'CHAIN_INSUFFICIENT_FUNDS',
        `the node's market balance is ${market} OPEN base units, not the ${amount} to withdraw`,
        { details: 'GET /balances shows it (`market`)' },
      )
    return (await withdrawBalance(client, { jobMarket, amount })).hash
  })
}
