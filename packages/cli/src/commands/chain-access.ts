/**
 * What the chain commands (stake, unstake, balance, market deposit/withdraw) share: the deployment file, a viem
 * client on `chain.rpcUrl` signing with the node's EVM key, and the translation of chain
 * failures into errors a user can act on. The daemon's own chain service lives elsewhere;
 * these commands only need one short-lived client.
 */
import { readFile } from 'node:fs/promises'
import {
  ContractRevertError,
  ContractsClientError,
  type Deployment,
  getMarketAccount,
  getStake,
  getTokenBalance,
  type ProtocolWalletClient,
  parseDeployment,
} from '@ocn/contracts-client'
import type { NodeConfig } from '@ocn/node'
import { NodeError } from '@ocn/node'
import {
  type Address,
  createWalletClient,
  defineChain,
  formatEther,
  http,
  type PublicActions,
  parseEther,
  publicActions,
  webSocket,
} from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { getBalance, getChainId } from 'viem/actions'

export type ChainCommandErrorCode =
  | 'CHAIN_DEPLOYMENT_MISSING'
  | 'CHAIN_DEPLOYMENT_INVALID'
  | 'CHAIN_DEPLOYMENT_MISMATCH'
  | 'CHAIN_UNREACHABLE'
  | 'CHAIN_INSUFFICIENT_BALANCE'
  | 'CHAIN_INSUFFICIENT_STAKE'
  | 'CHAIN_INSUFFICIENT_ALLOWANCE'
  | 'CHAIN_INSUFFICIENT_MARKET_BALANCE'
  | 'CHAIN_UNBONDING_NOT_READY'
  | 'CHAIN_NOTHING_UNBONDING'
  | 'CHAIN_REVERTED'
  | 'CHAIN_INVALID_AMOUNT'
  | 'CHAIN_INVALID_ARGUMENT'

/** A chain command failed for a reason the user can fix (exit code 2). */
export class ChainCommandError extends NodeError<ChainCommandErrorCode> {
  override name = 'ChainCommandError'
}

/** RPC calls give up after this; a dead endpoint must not hang the CLI. */
export const RPC_TIMEOUT_MS = 10_000

/** Reads and validates the deployment file named by `chain.deploymentFile`. */
export async function loadDeployment(config: NodeConfig): Promise<Deployment> {
  const path = config.chain.deploymentFile
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new ChainCommandError('CHAIN_DEPLOYMENT_MISSING', `no deployment file at ${path}`, {
      cause,
      details:
        'run `ocn devnet` for a local network, or point --deployment (chain.deploymentFile) at the deployment JSON of the chain you join',
    })
  }
  try {
    return parseDeployment(text)
  } catch (cause) {
    throw new ChainCommandError('CHAIN_DEPLOYMENT_INVALID', `the deployment file ${path} is not valid`, {
      cause,
      details: cause instanceof ContractsClientError ? cause.shortMessage : String(cause),
    })
  }
}

export type ChainCommandClient = ProtocolWalletClient & PublicActions

export interface ChainAccess {
  client: ChainCommandClient
  deployment: Deployment
  address: Address
  chainId: number
}

function unreachable(rpcUrl: string, cause: unknown): ChainCommandError {
  return new ChainCommandError('CHAIN_UNREACHABLE', `cannot reach the chain at ${rpcUrl}`, {
    cause,
    details: `is the RPC endpoint up (chain.rpcUrl, --rpc-url)? ${cause instanceof Error ? ((cause as { shortMessage?: string }).shortMessage ?? cause.message) : String(cause)}`,
  })
}

/**
 * Connects to `chain.rpcUrl` and checks the deployment's chain id. A bare address gives a
 * read-only client (no key, so no passphrase needed).
 */
export async function openChain(
  config: NodeConfig,
  account: PrivateKeyAccount | Address,
): Promise<ChainAccess> {
  const deployment = await loadDeployment(config)
  const rpcUrl = config.chain.rpcUrl
  const transport = rpcUrl.startsWith('ws')
    ? webSocket(rpcUrl, { timeout: RPC_TIMEOUT_MS, retryCount: 1 })
    : http(rpcUrl, { timeout: RPC_TIMEOUT_MS, retryCount: 1 })
  const probe = createWalletClient({ account, transport })
  let chainId: number
  try {
    chainId = await getChainId(probe)
  } catch (cause) {
    throw unreachable(rpcUrl, cause)
  }
  if (chainId !== deployment.chainId) {
    throw new ChainCommandError(
      'CHAIN_DEPLOYMENT_MISMATCH',
      `the deployment file is for chain ${deployment.chainId} but ${rpcUrl} is chain ${chainId}`,
      { details: 'use the deployment file of the chain the RPC endpoint serves' },
    )
  }
  const chain = defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
  const client = createWalletClient({ account, chain, transport }).extend(publicActions)
  const address = typeof account === 'string' ? account : account.address
  return { client: client as unknown as ChainCommandClient, deployment, address, chainId }
}

/** Parses an OPEN amount given on the command line: `100`, `0.5` or `2.5 OPEN` (18 decimals). */
export function parseOpenAmount(text: string | undefined, what: string): bigint {
  const trimmed = (text ?? '').trim().replace(/\s*OPEN$/i, '')
  if (!/^\d+(\.\d{1,18})?$/.test(trimmed)) {
    throw new ChainCommandError(
      'CHAIN_INVALID_AMOUNT',
      `${what} must be an amount of OPEN such as 100 or 0.5 (got "${text ?? ''}")`,
    )
  }
  const amount = parseEther(trimmed)
  if (amount === 0n) throw new ChainCommandError('CHAIN_INVALID_AMOUNT', `${what} must be above zero`)
  return amount
}

export function formatOpen(amount: bigint): string {
  return `${formatEther(amount)} OPEN`
}

export interface AccountBalances {
  address: Address
  native: bigint
  token: bigint
  staked: bigint
  locked: bigint
  free: bigint
  unbonding: bigint
  unbondingReadyAt: bigint
  /** prepaid OPEN inside the JobMarket (`ocn market deposit`), withdrawable */
  market: bigint
  /** whether jobs awarded to the account from now on pay out to `market` (provider.payoutToBalance) */
  payoutToBalance: boolean
}

export async function readAccountBalances(access: ChainAccess): Promise<AccountBalances> {
  const { client, deployment, address } = access
  try {
    const [native, token, stake, market] = await Promise.all([
      getBalance(client, { address }),
      getTokenBalance(client, { token: deployment.addresses.token, account: address }),
      getStake(client, { stakeManager: deployment.addresses.stakeManager, account: address }),
      getMarketAccount(client, { jobMarket: deployment.addresses.jobMarket, account: address }),
    ])
    return {
      address,
      native,
      token,
      ...stake,
      market: market.balance,
      payoutToBalance: market.payoutToBalance,
    }
  } catch (cause) {
    throw toChainCommandError(cause, access)
  }
}

/** Maps contracts-client errors (reverts, RPC failures) onto what the user should do. */
export function toChainCommandError(cause: unknown, access: Pick<ChainAccess, 'address'>): NodeError {
  if (cause instanceof NodeError) return cause
  if (cause instanceof ContractRevertError) {
    const args = cause.args.map((a) => (typeof a === 'bigint' ? a : undefined))
    switch (cause.errorName) {
      case 'ERC20InsufficientBalance':
        return new ChainCommandError(
          'CHAIN_INSUFFICIENT_BALANCE',
          `${access.address} holds ${formatOpen(args[1] ?? 0n)}, not the ${formatOpen(args[2] ?? 0n)} needed`,
          { cause, details: 'get OPEN from a funded account first (the devnet funds its nodes)' },
        )
      case 'ERC20InsufficientAllowance':
        return new ChainCommandError(
          'CHAIN_INSUFFICIENT_ALLOWANCE',
          `the allowance of ${access.address} covers ${formatOpen(args[1] ?? 0n)}, not the ${formatOpen(args[2] ?? 0n)} needed`,
          {
            cause,
            details: 'approve the contract for the amount first (`ocn market deposit` does so itself)',
          },
        )
      case 'InsufficientMarketBalance':
        return new ChainCommandError(
          'CHAIN_INSUFFICIENT_MARKET_BALANCE',
          `the market balance of ${access.address} is ${formatOpen(args[1] ?? 0n)}, not the ${formatOpen(args[2] ?? 0n)} asked`,
          { cause, details: '`ocn balance` shows it (market); withdraw at most that' },
        )
      case 'InsufficientFreeStake':
        return new ChainCommandError(
          'CHAIN_INSUFFICIENT_STAKE',
          `only ${formatOpen(args[1] ?? 0n)} of the stake is free (not locked as collateral), ${formatOpen(args[2] ?? 0n)} asked`,
          { cause },
        )
      case 'NothingUnbonding':
        return new ChainCommandError('CHAIN_NOTHING_UNBONDING', 'nothing is unbonding for this account', {
          cause,
          details: 'request it first with `ocn unstake <amount>`',
        })
      case 'UnbondingNotReady':
        return new ChainCommandError(
          'CHAIN_UNBONDING_NOT_READY',
          `the unbonding stake can be withdrawn at ${new Date(Number(args[1] ?? 0n) * 1000).toISOString()}`,
          { cause },
        )
      default:
        return new ChainCommandError('CHAIN_REVERTED', cause.shortMessage, { cause })
    }
  }
  if (cause instanceof ContractsClientError) {
    return new ChainCommandError('CHAIN_UNREACHABLE', `the chain request failed: ${cause.shortMessage}`, {
      cause,
      details: cause.details,
    })
  }
  return new ChainCommandError('CHAIN_UNREACHABLE', 'the chain request failed', {
    cause,
    details: cause instanceof Error ? cause.message : String(cause),
  })
}

/** Balances as JSON: decimal strings in base units. */
export function balancesJson(balances: AccountBalances): Record<string, string | boolean> {
  return {
    address: balances.address,
    native: balances.native.toString(),
    token: balances.token.toString(),
    staked: balances.staked.toString(),
    locked: balances.locked.toString(),
    free: balances.free.toString(),
    unbonding: balances.unbonding.toString(),
    unbondingReadyAt: balances.unbondingReadyAt.toString(),
    market: balances.market.toString(),
    payoutToBalance: balances.payoutToBalance,
  }
}

export function balancesText(balances: AccountBalances): string {
  const lines = [
    `account    ${balances.address}`,
    `  native   ${formatEther(balances.native)} ETH (gas)`,
    `  OPEN     ${formatOpen(balances.token)}`,
    `  market   ${formatOpen(balances.market)} (prepaid in the JobMarket; payouts ${balances.payoutToBalance ? 'credited here' : 'by transfer'})`,
    `  staked   ${formatOpen(balances.staked)} (locked ${formatOpen(balances.locked)}, free ${formatOpen(balances.free)})`,
  ]
  if (balances.unbonding > 0n) {
    lines.push(
      `  unbonding ${formatOpen(balances.unbonding)}, withdrawable at ${new Date(Number(balances.unbondingReadyAt) * 1000).toISOString()}`,
    )
  }
  return lines.join('\n')
}
