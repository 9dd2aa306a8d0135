/**
 * The devnet's books, to the wei: every OPEN of the supply is held by an account or a
 * contract; the StakeManager holds exactly the stakes (staked and unbonding); the JobMarket
 * holds exactly the escrow of its unsettled jobs, the bonds of its open disputes and the
 * fees and penalties it accrued for the treasury. Read from the chain alone, so it holds
 * whichever adjudication (arbiter or jury) settled the disputes.
 */
import {
  type Deployment,
  type DevChain,
  getDispute,
  getJob,
  getMarketParams,
  getStake,
  getTokenBalance,
  openTokenAbi,
} from '@ocn/contracts-client'
import { type Address, createPublicClient, type Hex, http } from 'viem'
import { readContract } from 'viem/actions'

export interface DevnetBooks {
  /** held === supply, stakeManager and jobMarket balanced */
  ok: boolean
  supply: bigint
  /** OPEN held by every account and contract of the devnet */
  held: bigint
  stakeManager: { balance: bigint; stakes: bigint }
  jobMarket: { balance: bigint; escrow: bigint; bonds: bigint; fees: bigint }
}

/** What the books are read from: a Devnet (devnet.ts) is one; its nodes are holders and stakers. */
export interface BooksSource {
  chain: DevChain
  deployment: Deployment
  nodes: readonly { address: Address }[]
}

export interface ReadBooksOptions {
  /** The jobs whose escrow and bonds the JobMarket may hold (every job the caller submitted). */
  jobIds?: readonly string[]
  /** Holders beyond the nodes, anvil's accounts and the deployment's contracts. */
  holders?: readonly Address[]
}

/** Job statuses whose price the JobMarket still holds. */
const ESCROWED = new Set(['awarded', 'committed', 'challenged'])

export async function readDevnetBooks(
  devnet: BooksSource,
  options: ReadBooksOptions = {},
): Promise<DevnetBooks> {
  const client = createPublicClient({ chain: devnet.chain.chain, transport: http(devnet.chain.rpcUrl) })
  const { token, stakeManager, jobMarket } = devnet.deployment.addresses
  const unique = (list: readonly Address[]) => [...new Set(list.map((a) => a.toLowerCase() as Address))]
  const accounts = unique([
    ...devnet.nodes.map((n) => n.address),
    ...devnet.chain.accounts.map((a) => a.address),
  ])
  // every contract of the deployment may hold OPEN (escrow, stakes, pools, channels, courts)
  const contracts = Object.values(devnet.deployment.addresses).filter(
    (a): a is Address => typeof a === 'string',
  )
  const holders = unique([...accounts, ...contracts, ...(options.holders ?? [])])

  const balanceOf = (account: Address) => getTokenBalance(client, { token, account })
  const held = (await Promise.all(holders.map(balanceOf))).reduce((a, b) => a + b, 0n)
  const supply = await readContract(client, {
    address: token,
    abi: openTokenAbi,
    functionName: 'totalSupply',
  })
  const stakes = (
    await Promise.all(accounts.map((account) => getStake(client, { stakeManager, account })))
  ).reduce((sum, s) => sum + s.staked + s.unbonding, 0n)

  let escrow = 0n
  let bonds = 0n
  for (const id of new Set(options.jobIds ?? [])) {
    const job = await getJob(client, { jobMarket, jobId: id as Hex })
    if (ESCROWED.has(job.status)) escrow += job.price
    if (job.status === 'challenged') bonds += (await getDispute(client, { jobMarket, jobId: id as Hex })).bond
  }
  const fees = (await getMarketParams(client, { jobMarket, stakeManager })).treasuryAccrued
  const books = {
    supply,
    held,
    stakeManager: { balance: await balanceOf(stakeManager), stakes },
    jobMarket: { balance: await balanceOf(jobMarket), escrow, bonds, fees },
  }
  return {
    ok:
      held === supply &&
      books.stakeManager.balance === stakes &&
      books.jobMarket.balance === escrow + bonds + fees,
    ...books,
  }
}
