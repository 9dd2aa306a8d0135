/**
 * The requester's allowance to the JobMarket. Peers accept an offer only when its requester's
 * balance and allowance already cover the offered maxPrice (p2p/requester-funds.ts), so the
 * allowance is raised before an offer is published, not at award; the award then pulls the
 * escrow from it and needs no approval of its own unless something else used it up.
 *
 * Raising by the shortfall only (to allowance + amount) keeps the allowance below twice the
 * largest open offer, and never lowers what another open offer of this node relies on.
 */
import { approveToken } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { readRequesterFunds } from '../../chain/reads.js'
import type { RequesterContext } from './context.js'

/**
 * Makes the allowance at least `amount`; undefined when it already was, else the approval's
 * transaction hash. Call it inside `chain.serialize`, so no other transaction of this node
 * spends the allowance between the read and the approval.
 */
export async function ensureMarketAllowance(
  context: Pick<RequesterContext, 'chain' | 'keys'>,
  amount: bigint,
): Promise<Hex | undefined> {
  const { chain, keys } = context
  const { allowance } = await readRequesterFunds(chain.client, chain.deployment, keys.account.address)
  if (allowance >= amount) return undefined
  const { hash } = await approveToken(chain.client, {
    token: chain.deployment.addresses.token,
    spender: chain.deployment.addresses.jobMarket,
    amount: allowance + amount,
  })
  return hash
}
