/**
 * provider.payoutToBalance: how this provider is paid for jobs awarded to it from now on,
 * credited to its prepaid balance in the JobMarket (no token transfer at settlement; it
 * withdraws when it likes) or transferred (the default). The choice lives on-chain, so the
 * provider reads it at start and sends `setPayoutToBalance` only when it differs from the
 * config: a restart with an unchanged config costs no transaction.
 */
import { getMarketAccount, setPayoutToBalance } from '@ocn/contracts-client'
import type { Logger } from '../../core/logger.js'
import type { RoleComponents } from '../shared.js'

/** Makes the on-chain payout choice match the config; returns whether it sent a transaction. */
export async function applyPayoutChoice(
  { chain, keys }: Pick<RoleComponents, 'chain' | 'keys'>,
  wanted: boolean,
  log: Logger,
): Promise<boolean> {
  const jobMarket = chain.deployment.addresses.jobMarket
  const describe = (toBalance: boolean) => (toBalance ? 'credited to the market balance' : 'transferred')
  const { payoutToBalance } = await getMarketAccount(chain.client, {
    jobMarket,
    account: keys.account.address,
  })
  if (payoutToBalance === wanted) {
    log.info({ payoutToBalance: wanted }, `payouts are ${describe(wanted)} (provider.payoutToBalance)`)
    return false
  }
  const { hash } = await chain.serialize(() =>
    setPayoutToBalance(chain.client, { jobMarket, enabled: wanted }),
  )
  log.info(
    { payoutToBalance: wanted, txHash: hash },
    `payouts of jobs awarded from now on are ${describe(wanted)} (provider.payoutToBalance; was ${describe(payoutToBalance)})`,
  )
  return true
}
