// The economics bench's world: one anvil with the real contracts under the deploy.ts defaults,
// and the accounts of every role, funded and staked once. Each strategy starts from a snapshot
// of this state, so no strategy's money leaks into another's figures.
import {
  approveToken,
  deployProtocol,
  getStake,
  getTokenBalance,
  jobMarketAbi,
  joinJury,
  openTokenAbi,
  stake,
  startDevChain,
  transferToken,
} from '@ocn/contracts-client'
import { createPublicClient, createTestClient, createWalletClient, http, parseEther } from 'viem'
import { readContract } from 'viem/actions'

export const e = parseEther
const MAX = 2n ** 255n
/** Jurors in the pool: the deploy.ts default first jury of 5 and its appeal jury of 11 (the whole pool) can always be seated. */
export const JUROR_COUNT = 11
export const VERIFIER_COUNT_MAX = 5
const FUNDING = e('100000')
/** Gas limit of every bench transaction: no call waits for an estimate (execute with a full jury is the largest). */
export const GAS = 3_000_000n
const JUROR_STAKE = e('1000')

/** Named accounts after admin (0) and treasury (1); then verifiers, then jurors. */
const NAMED = ['requester', 'provider', 'cheater', 'puppet', 'copycat', 'griefer', 'grieferPuppet']

export async function createWorld(log) {
  const accountCount = 2 + NAMED.length + VERIFIER_COUNT_MAX + JUROR_COUNT
  const chain = await startDevChain({ accountCount })
  try {
    const wallets = chain.accounts.map((account) =>
      createWalletClient({ account, chain: chain.chain, transport: http(chain.rpcUrl), pollingInterval: 20 }),
    )
    const admin = wallets[0]
    const treasury = wallets[1]
    const deployment = await deployProtocol(admin, { treasury: treasury.account.address })
    const w = {
      chain,
      deployment,
      addresses: deployment.addresses,
      court: deployment.addresses.disputeCourt,
      params: deployment.params,
      courtParams: deployment.courtParams,
      domain: { chainId: chain.chain.id, verifyingContract: deployment.addresses.jobMarket },
      reader: createPublicClient({ chain: chain.chain, transport: http(chain.rpcUrl), pollingInterval: 20 }),
      test: createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) }),
      admin,
      treasury,
      all: wallets,
    }
    NAMED.forEach((name, i) => {
      w[name] = wallets[2 + i]
    })
    const firstVerifier = 2 + NAMED.length
    w.verifiers = wallets.slice(firstVerifier, firstVerifier + VERIFIER_COUNT_MAX)
    w.jurors = wallets.slice(firstVerifier + VERIFIER_COUNT_MAX)
    await fund(w, log)
    keepBlocksComing(w)
    w.totalSupply = await readContract(w.reader, {
      address: w.addresses.token,
      abi: openTokenAbi,
      functionName: 'totalSupply',
    })
    return w
  } catch (err) {
    await chain.stop()
    throw err
  }
}

/**
 * Anvil reports a mined block a moment before it answers for the block's receipts: a receipt
 * watcher (viem's waitForTransactionReceipt) that looked in between waits for the next block,
 * which automine never makes while nothing else is sent (on a loaded machine, two runs stopped
 * on a receipt wait that timed out after three minutes). An empty block every two seconds ends such a wait;
 * it adds no time beyond the wall clock's (anvil stamps blocks with the wall clock plus the
 * offset the bench jumped), and is held back while the copycat's block is being assembled.
 */
function keepBlocksComing(w) {
  w.holdBlocks = false
  const timer = setInterval(() => {
    if (!w.holdBlocks) w.test.mine({ blocks: 1 }).catch(() => {})
  }, 2_000)
  timer.unref()
}

/** Funds every role, stakes it as its role needs, puts the jurors in the pool, sets approvals. */
async function fund(w, log) {
  const { token, stakeManager, jobMarket } = w.addresses
  const stakes = new Map([
    [w.provider, e('20000')],
    [w.cheater, e('20000')],
    [w.puppet, e('2000')],
    [w.copycat, e('2000')],
    [w.grieferPuppet, e('2000')],
    ...w.verifiers.map((v) => [v, e('2000')]),
    ...w.jurors.map((j) => [j, JUROR_STAKE]),
  ])
  for (const x of w.all.slice(2)) {
    await transferToken(w.admin, { token, to: x.account.address, amount: FUNDING })
    await approveToken(x, { token, spender: stakeManager, amount: MAX })
    await approveToken(x, { token, spender: w.court, amount: MAX })
    await approveToken(x, { token, spender: jobMarket, amount: MAX })
    const amount = stakes.get(x)
    if (amount !== undefined) await stake(x, { stakeManager, amount })
  }
  for (const j of w.jurors) await joinJury(j, { disputeCourt: w.court, amount: JUROR_STAKE })
  log(`world: ${w.all.length} accounts funded, ${w.jurors.length} jurors in the pool`)
}

/** OPEN an account holds plus OPEN it has staked (locked and unbonding included). */
export async function wealth(w, address) {
  const { token, stakeManager } = w.addresses
  const [balance, s] = await Promise.all([
    getTokenBalance(w.reader, { token, account: address }),
    getStake(w.reader, { stakeManager, account: address }),
  ])
  return balance + s.staked + s.unbonding
}

export async function wealthOf(w, wallets) {
  const all = await Promise.all(wallets.map((x) => wealth(w, x.account.address)))
  return all.reduce((a, b) => a + b, 0n)
}

/**
 * Tokens the contracts hold beyond what open obligations explain: the market's open escrows and
 * the treasury's accrual, the court's open bonds, the StakeManager's stakes. Also checks that
 * every token is with a holder or a contract (conservation of the supply).
 */
export async function stuckWei(w, openEscrow, openBonds) {
  const { token, stakeManager, jobMarket, attributionPool } = w.addresses
  const balanceOf = (account) => getTokenBalance(w.reader, { token, account })
  const addresses = w.all.map((x) => x.account.address)
  const [market, court, staked, pool, holders, stakes, accrued] = await Promise.all([
    balanceOf(jobMarket),
    balanceOf(w.court),
    balanceOf(stakeManager),
    attributionPool === undefined ? 0n : balanceOf(attributionPool),
    Promise.all(addresses.map(balanceOf)),
    Promise.all(addresses.map((account) => getStake(w.reader, { stakeManager, account }))),
    readContract(w.reader, { address: jobMarket, abi: jobMarketAbi, functionName: 'treasuryAccrued' }),
  ])
  const held = holders.reduce((a, b) => a + b, 0n)
  const conserved = held + market + court + staked + pool === w.totalSupply
  const owedStake = stakes.reduce((a, s) => a + s.staked + s.unbonding, 0n)
  const stuck = market - openEscrow - accrued + (court - openBonds) + (staked - owedStake) + pool
  return { stuck, conserved }
}

export async function advance(w, seconds) {
  if (seconds > 0) await w.test.increaseTime({ seconds })
  await w.test.mine({ blocks: 1 })
}

export async function now(w) {
  return (await w.reader.getBlock({ blockTag: 'latest' })).timestamp
}
