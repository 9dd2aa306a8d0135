/**
 * What every command that sends a transaction from the node account starts with: its chain
 * access and balances, and the refusals made before any transaction, so a short balance costs
 * no gas and leaves no allowance behind.
 */
import type { CommandContext } from '../command.js'
import { loadConfigFor } from '../context.js'
import { loadKeysFor } from './account.js'
import {
  type AccountBalances,
  type ChainAccess,
  ChainCommandError,
  formatOpen,
  openChain,
  readAccountBalances,
} from './chain-access.js'

/** The node account's chain access and its balances before the command's transaction. */
export async function openAccount(
  context: CommandContext,
): Promise<{ access: ChainAccess; before: AccountBalances }> {
  const { config } = await loadConfigFor(context)
  const keys = await loadKeysFor(context, config.dataDir)
  const access = await openChain(config, keys.account)
  return { access, before: await readAccountBalances(access) }
}

/** Refuses an account with no native coin for gas. */
export function requireGas(access: ChainAccess, before: AccountBalances): void {
  if (before.native === 0n)
    throw new ChainCommandError('CHAIN_INSUFFICIENT_BALANCE', `${access.address} has no native coin for gas`)
}

/** Refuses a wallet holding less OPEN than `amount` (`use` says what for), then one without gas. */
export function requireTokens(
  access: ChainAccess,
  before: AccountBalances,
  amount: bigint,
  use: string,
): void {
  if (before.token < amount) {
    throw new ChainCommandError(
      'CHAIN_INSUFFICIENT_BALANCE',
      `${access.address} holds ${formatOpen(before.token)}, not the ${formatOpen(amount)} to ${use}`,
      { details: 'get OPEN from a funded account first (the devnet funds its nodes)' },
    )
  }
  requireGas(access, before)
}
