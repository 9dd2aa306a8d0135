import { type BidTerms, jobIdOf, type MarketDomain, type OfferTerms } from '@ocn/protocol'
import {
  type Account,
  type Chain,
  type Client,
  createTestClient,
  createWalletClient,
  type Hex,
  http,
  keccak256,
  parseEther,
  type TestClient,
  type Transport,
  toHex,
} from 'viem'
import { getBlock } from 'viem/actions'
import {
  approveToken,
  type Deployment,
  type DevChain,
  deployProtocol,
  type MarketParameters,
  signBid,
  stake,
  startDevChain,
  transferToken,
} from '../src/index.js'

export type Wallet = Client<Transport, Chain, Account>

export function walletFor(chain: DevChain, account: Account): Wallet {
  return createWalletClient({
    account,
    chain: chain.chain,
    transport: http(chain.rpcUrl),
    pollingInterval: 50,
  })
}

export interface Protocol {
  chain: DevChain
  deployment: Deployment
  domain: MarketDomain
  admin: Wallet
  requester: Wallet
  provider: Wallet
  verifier: Wallet
  other: Wallet
  treasury: Wallet
  test: TestClient<'anvil', Transport, Chain>
}

export const FUNDING = parseEther('100000')

/** Starts anvil, deploys, funds requester/provider/verifier/other with FUNDING OPEN each. */
export async function setupProtocol(params: Partial<MarketParameters> = {}): Promise<Protocol> {
  const chain = await startDevChain()
  try {
    const [a0, a1, a2, a3, a4, a5] = chain.accounts
    const admin = walletFor(chain, a0!)
    const treasury = walletFor(chain, a5!)
    const deployment = await deployProtocol(admin, { treasury: treasury.account.address, params })
    const wallets = [a1!, a2!, a3!, a4!].map((a) => walletFor(chain, a))
    for (const w of wallets) {
      await transferToken(admin, {
        token: deployment.addresses.token,
        to: w.account.address,
        amount: FUNDING,
      })
    }
    const test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
    return {
      chain,
      deployment,
      domain: { chainId: chain.chain.id, verifyingContract: deployment.addresses.jobMarket },
      admin,
      requester: wallets[0]!,
      provider: wallets[1]!,
      verifier: wallets[2]!,
      other: wallets[3]!,
      treasury,
      test,
    }
  } catch (err) {
    await chain.stop()
    throw err
  }
}

export async function chainTime(client: Client<Transport, Chain | undefined>): Promise<bigint> {
  return (await getBlock(client, { blockTag: 'latest' })).timestamp
}

/** Moves chain time forward and mines a block, so the next transaction sees the new time. */
export async function advance(p: Protocol, seconds: number): Promise<void> {
  await p.test.increaseTime({ seconds })
  await p.test.mine({ blocks: 1 })
}

let salt = 0n
export async function makeOffer(p: Protocol, overrides: Partial<OfferTerms> = {}): Promise<OfferTerms> {
  const now = await chainTime(p.admin)
  salt += 1n
  return {
    requester: p.requester.account.address,
    modelHash: keccak256(toHex('model')),
    inputHash: keccak256(toHex('input')),
    specHash: keccak256(toHex('spec')),
    kind: 0,
    verification: 0,
    maxPrice: parseEther('50'),
    minCollateral: parseEther('100'),
    biddingEnds: now + 60n,
    deadline: now + 3600n,
    sampleCount: 64,
    microBatchSize: 8,
    salt,
    ...overrides,
  }
}

let nonce = 0n
export async function makeBid(
  p: Protocol,
  offer: OfferTerms,
  overrides: Partial<BidTerms> = {},
  signer: Wallet = p.provider,
): Promise<{ bid: BidTerms; signature: Hex }> {
  const now = await chainTime(p.admin)
  nonce += 1n
  const bid: BidTerms = {
    jobId: jobIdOf(offer),
    provider: p.provider.account.address,
    price: parseEther('40'),
    collateral: parseEther('200'),
    expiry: now + 600n,
    nonce,
    etaSeconds: 120,
    ...overrides,
  }
  const signature = await signBid(signer, { domain: p.domain, bid })
  return { bid, signature }
}

export async function stakeAs(p: Protocol, wallet: Wallet, amount: bigint): Promise<void> {
  await approveToken(wallet, {
    token: p.deployment.addresses.token,
    spender: p.deployment.addresses.stakeManager,
    amount,
  })
  await stake(wallet, { stakeManager: p.deployment.addresses.stakeManager, amount })
}

export async function approveMarket(p: Protocol, wallet: Wallet, amount: bigint): Promise<void> {
  await approveToken(wallet, {
    token: p.deployment.addresses.token,
    spender: p.deployment.addresses.jobMarket,
    amount,
  })
}

export async function expectRevert(
  promise: Promise<unknown>,
  errorName: string,
): Promise<import('../src/index.js').ContractRevertError> {
  const { ContractRevertError } = await import('../src/index.js')
  try {
    await promise
  } catch (err) {
    if (err instanceof ContractRevertError) {
      if (err.errorName !== errorName) {
        throw new Error(`expected revert ${errorName}, got ${err.errorName}(${err.args.join(', ')})`, {
          cause: err,
        })
      }
      return err
    }
    throw err
  }
  throw new Error(`expected revert ${errorName}, but the call succeeded`)
}
