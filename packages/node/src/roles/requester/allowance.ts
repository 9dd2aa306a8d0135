/**
 * The requester's allowance to the JobMarket. Peers accept an offer only when its requester's
 * prepaid market balance, or its balance and allowance, already cover the offered maxPrice
 * (p2p/requester-funds.ts), so the allowance is raised before an offer is published, not at
 * award; the award then pulls the escrow from it and needs no approval of its own unless
 * something else used it up. An offer or award whose price the market balance covers needs no
 * allowance: the market takes the price from the balance (chain/reads.ts `escrowSource`).
 *
 * Raising by the shortfall only (to allowance + amount) keeps the allowance below twice the
 * largest open offer, and never lowers what another open offer of this node relies on.
 */
import { approveToken, awardDrawsFromBalance } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { escrowSource, type RequesterFundsReading, readRequesterFunds } from '../../chain/reads.js'
import { RoleError } from '../errors.js'
import type { RequesterContext } from './context.js'

/**
 * Makes the allowance at least `amount`; undefined when it already was, else the approval's
 * transaction hash. Call it inside `chain.serialize`, so no other transaction of this node
 * spends the allowance between the read and the approval.
 */
export async function ensureMarketAllowance(
  context: Pick<RequesterContext, 'chain' | 'keys'>,
  amount: bigint,
  funds?: RequesterFundsReading,
): Promise<Hex | undefined> {
  const { chain, keys } = context
  const { allowance } =
    funds ?? (await readRequesterFunds(chain.client, chain.deployment, keys.account.address))
  if (allowance >= amount) return undefined
  const { hash } = await approveToken(chain.client, {
    token: chain.deployment.addresses.token,
    spender: chain.deployment.addresses.jobMarket,
    amount: allowance + amount,
  })
  return hash
}

/**
 * Readies the node's funds for an award (or offer) at `price`: nothing when the market balance
 * covers it, the allowance raised when the wallet does. Returns where the price will come from;
 * throws ROLE_INSUFFICIENT_BALANCE when neither covers it. Call it inside `chain.serialize`,
 * right before the award, so no other transaction of this node spends the funds in between.
 */
export async function prepareEscrow(
  context: Pick<RequesterContext, 'chain' | 'keys'>,
  price: bigint,
): Promise<'market' | 'wallet'> {
  const { chain, keys } = context
  const funds = await readRequesterFunds(chain.client, chain.deployment, keys.account.address)
  const source = escrowSource(funds, price)
  if (source === undefined) {
    throw new RoleError('ROLE_INSUFFICIENT_BALANCE', 'not enough OPEN to escrow this price', {
      details:
        `price ${price}, wallet balance ${funds.balance}, market balance ${funds.market} (base units); ` +
        'a market balance is used only when it covers the whole price: get OPEN or `ocn market deposit <amount>`',
    })
  }
  if (source === 'wallet') await ensureMarketAllowance(context, price, funds)
  return source
}

/**
 * `prepareEscrow` for awards sent in one transaction (`awardBatch`): the market takes each
 * price from the balance when what is left of it covers that price, in the batch's order, and
 * the rest with one `transferFrom` of their sum, so the wallet must hold that sum and the
 * allowance cover it. Returns each award's source, in order; throws ROLE_INSUFFICIENT_BALANCE
 * when the wallet cannot cover its part (the caller then awards one by one). Call it inside
 * `chain.serialize`, right before the award.
 */
export async function prepareBatchEscrow(
  context: Pick<RequesterContext, 'chain' | 'keys'>,
  prices: readonly bigint[],
): Promise<Array<'market' | 'wallet'>> {
  const [only] = prices
  // one award alone: the single rule, with its message naming both balances
  if (prices.length === 1 && only !== undefined) return [await prepareEscrow(context, only)]
  const { chain, keys } = context
  const funds = await readRequesterFunds(chain.client, chain.deployment, keys.account.address)
  let market = funds.market
  let fromWallet = 0n
  const sources = prices.map((price): 'market' | 'wallet' => {
    if (awardDrawsFromBalance(market, price)) {
      market -= price
      return 'market'
    }
    fromWallet += price
    return 'wallet'
  })
  if (fromWallet > funds.balance) {
    throw new RoleError('ROLE_INSUFFICIENT_BALANCE', 'not enough OPEN to escrow these prices together', {
      details: `${fromWallet} from the wallet, which holds ${funds.balance} (base units)`,
    })
  }
  if (fromWallet > 0n) await ensureMarketAllowance(context, fromWallet, funds)
  return sources
}

/**
 * Before an offer goes out: peers accept it when the market balance covers its maxPrice, else
 * they need the balance and the allowance to; raises the allowance in the second case only.
 * Call it inside `chain.serialize`.
 */
export async function ensureOfferFunded(
  context: Pick<RequesterContext, 'chain' | 'keys'>,
  maxPrice: bigint,
): Promise<void> {
  const { chain, keys } = context
  const funds = await readRequesterFunds(chain.client, chain.deployment, keys.account.address)
  if (escrowSource(funds, maxPrice) !== 'market') await ensureMarketAllowance(context, maxPrice, funds)
}
