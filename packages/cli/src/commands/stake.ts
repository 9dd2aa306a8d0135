import { approveToken, stake } from '@ocn/contracts-client'
import type { Command } from '../command.js'
import { passphraseFlag } from './account.js'
import { openAccount, requireTokens } from './account-access.js'
import {
  balancesJson,
  balancesText,
  formatOpen,
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
    const { access, before } = await openAccount(context)
    requireTokens(access, before, amount, 'stake')
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
