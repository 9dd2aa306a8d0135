import { requestUnbonding, withdrawStake } from '@ocn/contracts-client'
import type { Command } from '../command.js'
import { CliError } from '../errors.js'
import { passphraseFlag } from './account.js'
import { openAccount } from './account-access.js'
import {
  balancesJson,
  balancesText,
  ChainCommandError,
  formatOpen,
  parseOpenAmount,
  readAccountBalances,
  toChainCommandError,
} from './chain-access.js'

export const unstakeCommand: Command = {
  path: ['unstake'],
  summary: 'start unbonding staked OPEN, or with --withdraw take back what finished unbonding',
  usage: 'ocn unstake <amount> | ocn unstake --withdraw [--passphrase-file <file>] [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: {
    withdraw: { type: 'boolean', description: 'withdraw the stake whose unbonding delay has passed' },
    ...passphraseFlag,
  },
  async run(context) {
    const withdraw = context.flags.withdraw === true
    if (withdraw && context.positionals.length > 0) {
      throw new CliError('CLI_USAGE', '--withdraw takes no amount: it withdraws everything that has unbonded')
    }
    const amount = withdraw ? 0n : parseOpenAmount(context.positionals[0], 'the amount to unstake')
    const { access, before } = await openAccount(context)
    const { stakeManager } = access.deployment.addresses
    if (withdraw) {
      if (before.unbonding === 0n) {
        throw new ChainCommandError('CHAIN_NOTHING_UNBONDING', 'nothing is unbonding for this account', {
          details: 'request it first with `ocn unstake <amount>`',
        })
      }
      let hash: string
      try {
        hash = (await withdrawStake(access.client, { stakeManager })).hash
      } catch (cause) {
        throw toChainCommandError(cause, access)
      }
      const after = await readAccountBalances(access)
      return {
        json: { withdrawn: before.unbonding.toString(), transaction: hash, balances: balancesJson(after) },
        text: [`Withdrew ${formatOpen(before.unbonding)} (transaction ${hash})`, balancesText(after)].join(
          '\n',
        ),
      }
    }
    if (before.free < amount) {
      throw new ChainCommandError(
        'CHAIN_INSUFFICIENT_STAKE',
        `only ${formatOpen(before.free)} of the stake is free (not locked as collateral), ${formatOpen(amount)} asked`,
      )
    }
    let hash: string
    try {
      hash = (await requestUnbonding(access.client, { stakeManager, amount })).hash
    } catch (cause) {
      throw toChainCommandError(cause, access)
    }
    const after = await readAccountBalances(access)
    const readyAt = new Date(Number(after.unbondingReadyAt) * 1000).toISOString()
    return {
      json: {
        unbonding: amount.toString(),
        readyAt: after.unbondingReadyAt.toString(),
        transaction: hash,
        balances: balancesJson(after),
      },
      text: [
        `Unbonding ${formatOpen(amount)} (transaction ${hash}); withdraw it with \`ocn unstake --withdraw\` after ${readyAt}`,
        balancesText(after),
      ].join('\n'),
    }
  },
}
