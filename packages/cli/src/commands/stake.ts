import { approveToken, stake } from '@ocn/contracts-client'
import type { Command } from '../command.js'
import { loadConfigFor } from '../context.js'
import { loadKeysFor, passphraseFlag } from './account.js'
import {
  balancesJson,
  balancesText,
  ChainCommandError,
  formatOpen,
  openChain,
  parseOpenAmount,
  readAccountBalances,
  toChainCommandError,
} from './chain-access.js'

export const stakeCommand: Command = {
  path: ['stake'],
  summary: 'stake OPEN from the node account (collateral for bids, the right to challenge)',
  usage: 'ocn stake <amount> [--passphrase-file <file>] [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: { ...passphraseFlag },
  async run(context) {
    const amount = parseOpenAmount(context.positionals[0], 'the amount to stake')
    const { config } = await loadConfigFor(context)
    const keys = await loadKeysFor(context, config.dataDir)
    const access = await openChain(config, keys.account)
    const before = await readAccountBalances(access)
    // Checked before any transaction so a short balance costs no gas and leaves no allowance behind.
    if (before.token < amount) {
      throw new ChainCommandError(
        'CHAIN_INSUFFICIENT_BALANCE',
        `${access.address} holds ${formatOpen(before.token)}, not the ${formatOpen(amount)} to stake`,
        { details: 'get OPEN from a funded account first (the devnet funds its nodes)' },
      )
    }
    if (before.native === 0n) {
      throw new ChainCommandError(
        'CHAIN_INSUFFICIENT_BALANCE',
        `${access.address} has no native coin for gas`,
      )
    }
    const { stakeManager, token } = access.deployment.addresses
    let hash: string
    try {
      await approveToken(access.client, { token, spender: stakeManager, amount })
      hash = (await stake(access.client, { stakeManager, amount })).hash
    } catch (cause) {
      throw toChainCommandError(cause, access)
    }
    const after = await readAccountBalances(access)
    return {
      json: { staked: amount.toString(), transaction: hash, balances: balancesJson(after) },
      text: [`Staked ${formatOpen(amount)} (transaction ${hash})`, balancesText(after)].join('\n'),
    }
  },
}
