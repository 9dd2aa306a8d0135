import { readNodeKeyInfo } from '@ocn/node'
import type { Address } from 'viem'
import type { Command } from '../command.js'
import { loadConfigFor } from '../context.js'
import { balancesJson, balancesText, openChain, readAccountBalances } from './chain-access.js'

export const balanceCommand: Command = {
  path: ['balance'],
  summary:
    "show the node account's gas coin, OPEN, JobMarket balance, stake and unbonding, read from the chain",
  usage: 'ocn balance [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {},
  async run(context) {
    const { config } = await loadConfigFor(context)
    // Only the public address is needed: encrypted keys stay sealed.
    const info = await readNodeKeyInfo(config.dataDir)
    const access = await openChain(config, info.address as Address)
    const balances = await readAccountBalances(access)
    return {
      json: { chainId: access.chainId, ...balancesJson(balances) },
      text: balancesText(balances),
    }
  },
}
