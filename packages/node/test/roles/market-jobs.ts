/**
 * What the role tests on anvil share: wallet clients, and a replay inference job's offer with
 * the provider's signed bid for it, ready for `award` (or a batch of them).
 */
import { type DevChain, signBid } from '@ocn/contracts-client'
import { type BidTerms, contentHashOf, jobIdOf, type OfferTerms } from '@ocn/protocol'
import {
  type Account,
  type Address,
  type Chain,
  type Client,
  createWalletClient,
  type Hex,
  http,
  parseEther,
  type Transport,
} from 'viem'
import { getBlock } from 'viem/actions'

export type Wallet = Client<Transport, Chain, Account>

export function walletOn(chain: DevChain, account: Account): Wallet {
  return createWalletClient({
    account,
    chain: chain.chain,
    transport: http(chain.rpcUrl),
    pollingInterval: 50,
  })
}

export interface ReplayJobTerms {
  requester: Wallet
  provider: Wallet
  jobMarket: Address
  /** unique per job: the offer's salt and the bid's nonce */
  salt: bigint
  price: bigint
  collateral: bigint
  leaves: number
  /** who signs the bid; the provider it names unless a test forges it */
  signer?: Wallet
}

/** A replay inference offer of `leaves` micro-batches of one sample and the bid for it. */
export async function signedReplayAward(
  terms: ReplayJobTerms,
): Promise<{ jobId: Hex; offer: OfferTerms; bid: BidTerms; signature: Hex }> {
  const { requester, provider, jobMarket, salt } = terms
  const now = (await getBlock(requester)).timestamp
  const offer: OfferTerms = {
    requester: requester.account.address,
    modelHash: contentHashOf(new Uint8Array([1])),
    inputHash: contentHashOf(new Uint8Array([2])),
    specHash: contentHashOf(new Uint8Array([3])),
    kind: 0,
    verification: 0,
    maxPrice: parseEther('50'),
    minCollateral: terms.collateral,
    biddingEnds: now + 60n,
    deadline: now + 3600n,
    sampleCount: terms.leaves,
    microBatchSize: 1,
    salt,
  }
  const bid: BidTerms = {
    jobId: jobIdOf(offer),
    provider: provider.account.address,
    price: terms.price,
    collateral: terms.collateral,
    expiry: now + 600n,
    nonce: salt,
    etaSeconds: 30,
  }
  const signature = await signBid(terms.signer ?? provider, {
    domain: { chainId: requester.chain.id, verifyingContract: jobMarket },
    bid,
  })
  return { jobId: bid.jobId, offer, bid, signature }
}
