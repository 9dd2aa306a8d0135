/**
 * The devnet's books, to the wei: every OPEN of the supply is held by an account or a
 * contract; the StakeManager holds exactly the stakes (staked and unbonding); the JobMarket
 * holds exactly the escrow of its unsettled jobs, the fees and penalties it accrued for the
 * treasury and the accounts' prepaid balances (deposits, credited payouts; none unless someone
 * deposits or opts in); the DisputeCourt holds nothing once every dispute on the jobs is closed (bonds,
 * slashed stakes and jury pots all paid out). Read from the chain alone.
 */
import {
  CourtPhase,
  type Deployment,
  type DevChain,
  getCourtDispute,
  getJob,
  getJobDisputes,
  getMarketAccount,
  getMarketParams,
  getStake,
  getTokenBalance,
  openTokenAbi,
  type ProtocolReadClient,
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
  /** `balances`: Σ the holders' prepaid balances in the JobMarket (`getAccount`) */
  jobMarket: { balance: bigint; escrow: bigint; fees: bigint; balances: bigint }
  /** `openDisputes` on the jobs; with none open the court must hold nothing */
  court?: { balance: bigint; openDisputes: number }
}

/** What the books are read from: a Devnet (devnet.ts) is one; its nodes are holders and stakers. */
export interface BooksSource {
  chain: DevChain
  deployment: Deployment
  nodes: readonly { address: Address }[]
}

export interface ReadBooksOptions {
  /** The jobs whose escrow the JobMarket and whose disputes the court may hold (every job the caller submitted). */
  jobIds?: readonly string[]
  /** Holders beyond the nodes, anvil's accounts and the deployment's contracts. */
  holders?: readonly Address[]
}

/** Job statuses whose price the JobMarket still holds. */
const ESCROWED = new Set(['awarded', 'committed'])

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
  // money kept inside the JobMarket on an account's behalf: held there, owed to the account
  const balances = (
    await Promise.all(holders.map((account) => getMarketAccount(client, { jobMarket, account })))
  ).reduce((sum, a) => sum + a.balance, 0n)
  const stakes = (
    await Promise.all(accounts.map((account) => getStake(client, { stakeManager, account })))
  ).reduce((sum, s) => sum + s.staked + s.unbonding, 0n)

  const { disputeCourt } = devnet.deployment.addresses
  let escrow = 0n
  let openDisputes = 0
  for (const id of new Set(options.jobIds ?? [])) {
    const jobId = id as Hex
    const job = await getJob(client, { jobMarket, jobId })
    if (ESCROWED.has(job.status)) escrow += job.price
    if (disputeCourt !== undefined) openDisputes += await countOpen(client, disputeCourt, jobId)
  }
  const fees = (await getMarketParams(client, { jobMarket, stakeManager })).treasuryAccrued
  const court =
    disputeCourt === undefined ? undefined : { balance: await balanceOf(disputeCourt), openDisputes }
  const books = {
    supply,
    held,
    stakeManager: { balance: await balanceOf(stakeManager), stakes },
    jobMarket: { balance: await balanceOf(jobMarket), escrow, fees, balances },
    ...(court === undefined ? {} : { court }),
  }
  return {
    ok:
      held === supply &&
      books.stakeManager.balance === stakes &&
      books.jobMarket.balance === escrow + fees + balances &&
      (court === undefined || court.openDisputes > 0 || court.balance === 0n),
    ...books,
  }
}

/** Disputes on `jobId` not yet closed (their bonds and stakes may still sit in the court). */
async function countOpen(client: ProtocolReadClient, disputeCourt: Address, jobId: Hex): Promise<number> {
  let open = 0
  for (const disputeId of await getJobDisputes(client, { disputeCourt, jobId })) {
    const dispute = await getCourtDispute(client, { disputeCourt, disputeId })
    if (dispute.phase !== CourtPhase.closed) open += 1
  }
  return open
}
