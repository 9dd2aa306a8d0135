/**
 * `ocn market deposit` and `ocn market withdraw`: the node account's prepaid balance inside the
 * JobMarket. An award takes its price from this balance when the balance covers it (no token
 * transfer, ~20 000 gas less per award), and a provider with `provider.payoutToBalance` is paid
 * into it; `ocn balance` shows it beside the wallet (docs/contracts.md, "Prepaid balances").
 */
import { approveToken, depositBalance, openTokenAbi, withdrawBalance } from '@ocn/contracts-client'
import { readContract } from 'viem/actions'
import type { Command, CommandResult } from '../command.js'
import { CliError } from '../errors.js'
import { passphraseFlag } from './account.js'
import { openAccount, requireGas, requireTokens } from './account-access.js'
import {
  balancesJson,
  balancesText,
  type ChainAccess,
  ChainCommandError,
  formatOpen,
  parseOpenAmount,
  readAccountBalances,
  toChainCommandError,
} from './chain-access.js'

async function moved(
  access: ChainAccess,
  key: 'deposited' | 'withdrawn',
  amount: bigint,
  hash: string,
): Promise<CommandResult> {
  const after = await readAccountBalances(access)
  const verb = key === 'deposited' ? 'Deposited' : 'Withdrew'
  return {
    json: { [key]: amount.toString(), transaction: hash, balances: balancesJson(after) },
    text: [`${verb} ${formatOpen(amount)} (transaction ${hash})`, balancesText(after)].join('\n'),
  }
}

export const marketDepositCommand: Command = {
  path: ['market', 'deposit'],
  summary:
    'pay OPEN from the node account into its JobMarket balance (awards it covers make no token transfer)',
  usage: 'ocn market deposit <amount> [--passphrase-file <file>] [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: { ...passphraseFlag },
  async run(context) {
    const amount = parseOpenAmount(context.positionals[0], 'the amount to deposit')
    const { access, before } = await openAccount(context)
    requireTokens(access, before, amount, 'deposit')
    const { jobMarket, token } = access.deployment.addresses
    let hash: string
    try {
      // raised by the amount, not set to it: a running requester's allowance for its open
      // offers stays as it was once the deposit has spent its part
      const allowance = await readContract(access.client, {
        address: token,
        abi: openTokenAbi,
        functionName: 'allowance',
        args: [access.address, jobMarket],
      })
      await approveToken(access.client, { token, spender: jobMarket, amount: allowance + amount })
      hash = (await depositBalance(access.client, { jobMarket, amount })).hash
    } catch (cause) {
      throw toChainCommandError(cause, access)
    }
    return moved(access, 'deposited', amount, hash)
  },
}

export const marketWithdrawCommand: Command = {
  path: ['market', 'withdraw'],
  summary: "take OPEN out of the node account's JobMarket balance (deposits, refunds, credited payouts)",
  usage: 'ocn market withdraw <amount> | ocn market withdraw --all [--passphrase-file <file>] [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: {
    all: { type: 'boolean', description: 'withdraw the whole market balance' },
    ...passphraseFlag,
  },
  async run(context) {
    const all = context.flags.all === true
    if (all && context.positionals.length > 0)
      throw new CliError('CLI_USAGE', '--all takes no amount: it withdraws the whole market balance')
    const asked = all ? 0n : parseOpenAmount(context.positionals[0], 'the amount to withdraw')
    const { access, before } = await openAccount(context)
    const amount = all ? before.market : asked
    if (amount === 0n || before.market < amount) {
      throw new ChainCommandError(
        'CHAIN_INSUFFICIENT_MARKET_BALANCE',
        `the market balance of ${access.address} is ${formatOpen(before.market)}${all ? '' : `, not the ${formatOpen(amount)} asked`}`,
        { details: 'deposit with `ocn market deposit <amount>`; `ocn balance` shows the market balance' },
      )
    }
    requireGas(access, before)
    let hash: string
    try {
      hash = (
        await withdrawBalance(access.client, { jobMarket: access.deployment.addresses.jobMarket, amount })
      ).hash
    } catch (cause) {
      throw toChainCommandError(cause, access)
    }
    return moved(access, 'withdrawn', amount, hash)
  },
}

export const marketCommands: readonly Command[] = [marketDepositCommand, marketWithdrawCommand]
