#!/usr/bin/env node
import {
  approveToken,
  award,
  awardBatch,
  awardCompact,
  challengeCommitment,
  commitBatch,
  commitChallenge,
  commitCompact,
  commitResult,
  compactSalt,
  deployProtocol,
  depositBalance,
  expire,
  expireChallenge,
  finalize,
  finalizeBatch,
  finalizeCompact,
  materializeCompactJob,
  setAttributionWeights,
  setPayoutToBalance,
  signBid,
  stake,
  startDevChain,
  transferToken,
  withdrawBalance,
} from '@ocn/contracts-client'
// Gas used by each protocol transaction, measured on a fresh embedded anvil.
//
// Usage: npm run bench:gas [-- --json]
// With --json the last stdout line is one JSON object:
//   { stake, award, commitResult, finalize, challenge, resolve, expire, happyPath,
//     awardAttributed, finalizeAttributed, happyPathAttributed, batchedPerJob,
//     deposit, withdraw, awardPrepaid, finalizePrepaid, happyPathPrepaid, batchedPerJobPrepaid,
//     batchedPerJobStored, batchedPerJobStoredPrepaid, materializeCompact }
// happyPath = award + commitResult + finalize. challenge is a sealed challenge committed to the
// DisputeCourt (it holds the job), resolve the court releasing it (an unrevealed challenge expired). The plain figures are for a model without
// attribution weights (the deployment's AttributionPool is configured, so award still asks it);
// the *Attributed ones for a model with weights, whose payout also deposits the share in the pool.
// batchedPerJob: (awardCompact + commitCompact + finalizeCompact) / 32 for a compact batch of 32
// jobs of one requester and one provider (the jobs of one provider are paid with one transfer
// and one unlock): the market stores a lane per job, and commit and finalize pass the batch's
// records in calldata. Steady state here too: the requester's compact-salt word exists (a new
// one every 256 offers adds ~90 gas per job). batchedPerJobStored: the same with awardBatch +
// commitBatch + finalizeBatch, which store every job as `award` does. materializeCompact: moving
// one committed compact job into ordinary storage, which a dispute or an expiry of it needs.
// The *Prepaid figures, measured last so the others are as before: the requester has a deposit
// in the JobMarket that covers the prices (the award makes no transferFrom) and the provider has
// opted in to balance payouts (finalize makes no transfer); deposit and withdraw are those two
// calls on their own (an account that already has a balance), which a requester and a provider
// make once for many jobs.
//
// The figures are steady state: the provider has finished a job before, so its nonce word,
// reputation record and token balance already exist, as do the market's token balance and
// the treasury's accrual (the first job of a fresh provider pays for creating those slots;
// it is printed separately in the human-readable output).
import { jobIdOf, MerkleTree } from '@ocn/protocol'
import { createTestClient, createWalletClient, http, keccak256, parseEther, toHex } from 'viem'
import { getBlock } from 'viem/actions'

const json = process.argv.includes('--json')
const log = (...args) => {
  if (!json) console.log(...args)
}

const chain = await startDevChain()
try {
  const wallet = (i) =>
    createWalletClient({
      account: chain.accounts[i],
      chain: chain.chain,
      transport: http(chain.rpcUrl),
      pollingInterval: 50,
    })
  const admin = wallet(0)
  const requester = wallet(1)
  const provider = wallet(2)
  const verifier = wallet(3)
  const test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
  const deployment = await deployProtocol(admin, { treasury: wallet(5).account.address })
  const { token, stakeManager, jobMarket } = deployment.addresses
  const domain = { chainId: chain.chain.id, verifyingContract: jobMarket }
  const window = deployment.params.challengeWindow

  for (const w of [requester, provider, verifier]) {
    await transferToken(admin, { token, to: w.account.address, amount: parseEther('100000') })
  }
  const gasOf = (result) => Number(result.receipt.gasUsed)

  await approveToken(provider, { token, spender: stakeManager, amount: parseEther('10000') })
  const stakeGas = gasOf(await stake(provider, { stakeManager, amount: parseEther('10000') }))
  await approveToken(verifier, { token, spender: stakeManager, amount: parseEther('1000') })
  await stake(verifier, { stakeManager, amount: parseEther('1000') })
  // unlimited approvals, as a requester's node would set once
  await approveToken(requester, { token, spender: jobMarket, amount: 2n ** 256n - 1n })
  await approveToken(verifier, { token, spender: jobMarket, amount: 2n ** 256n - 1n })

  const tree = MerkleTree.fromDataHashes(Array.from({ length: 64 }, (_, i) => keccak256(toHex(`out ${i}`))))
  let salt = 0n
  let nonce = 0n
  // `jobSalt`: the offer's salt when given (a compact salt), else the next ordinary one
  const signedJob = async (modelHash = keccak256(toHex('model')), jobSalt = undefined) => {
    const now = (await getBlock(admin)).timestamp
    salt += 1n
    nonce += 1n
    const offer = {
      requester: requester.account.address,
      modelHash,
      inputHash: keccak256(toHex('input')),
      specHash: keccak256(toHex('spec')),
      kind: 0,
      verification: 0,
      maxPrice: parseEther('50'),
      minCollateral: parseEther('100'),
      biddingEnds: now + 30n,
      deadline: now + 3600n,
      sampleCount: 64,
      microBatchSize: 1,
      salt: jobSalt ?? salt,
    }
    const bid = {
      jobId: jobIdOf(offer),
      provider: provider.account.address,
      price: parseEther('40'),
      collateral: parseEther('200'),
      expiry: now + 600n,
      nonce,
      etaSeconds: 60,
    }
    const signature = await signBid(provider, { domain, bid })
    return { offer, bid, signature }
  }
  const newJob = async (modelHash) => {
    const awarded = await award(requester, { jobMarket, ...(await signedJob(modelHash)) })
    return { jobId: awarded.jobId, award: gasOf(awarded) }
  }
  const advance = async (seconds) => {
    await test.increaseTime({ seconds })
    await test.mine({ blocks: 1 })
  }
  const happy = async (modelHash) => {
    const job = await newJob(modelHash)
    const commit = gasOf(
      await commitResult(provider, {
        jobMarket,
        jobId: job.jobId,
        resultRoot: tree.root,
        leafCount: tree.leafCount,
      }),
    )
    await advance(window + 1)
    const fin = gasOf(await finalize(verifier, { jobMarket, jobId: job.jobId }))
    return { award: job.award, commitResult: commit, finalize: fin, happyPath: job.award + commit + fin }
  }

  const first = await happy()
  const steady = await happy()

  const disputed = await newJob()
  await commitResult(provider, {
    jobMarket,
    jobId: disputed.jobId,
    resultRoot: tree.root,
    leafCount: tree.leafCount,
  })
  const disputeCourt = deployment.addresses.disputeCourt
  await approveToken(verifier, { token, spender: disputeCourt, amount: 2n ** 256n - 1n })
  const commitment = challengeCommitment({
    jobId: disputed.jobId,
    challenger: verifier.account.address,
    leafIndex: 7n,
    claimedDataHash: keccak256(toHex('honest output 7')),
    salt: keccak256(toHex('salt')),
  })
  const challenged = await commitChallenge(verifier, { disputeCourt, jobId: disputed.jobId, commitment })
  const challengeGas = gasOf(challenged)
  await advance(deployment.courtParams.revealPeriod + 1)
  const resolveGas = gasOf(await expireChallenge(admin, { disputeCourt, disputeId: challenged.disputeId }))

  const noShow = await newJob()
  await advance(3601)
  const expireGas = gasOf(await expire(verifier, { jobMarket, jobId: noShow.jobId }))

  const attributedModel = keccak256(toHex('model with weights'))
  await setAttributionWeights(admin, {
    attributionPool: deployment.addresses.attributionPool,
    modelId: attributedModel,
    weightsRoot: keccak256(toHex('weights root')),
    resultHash: keccak256(toHex('attribution result')),
  })
  // the first one creates the pool's token balance and the model's pending slot
  await happy(attributedModel)
  const attributed = await happy(attributedModel)

  const BATCH = 32
  const batch = async (label) => {
    const awards = []
    for (let i = 0; i < BATCH; i++) awards.push(await signedJob())
    const batchAwarded = await awardBatch(requester, { jobMarket, awards })
    const commits = batchAwarded.jobIds.map((jobId) => ({
      jobId,
      resultRoot: tree.root,
      leafCount: tree.leafCount,
    }))
    const batchCommitted = await commitBatch(provider, { jobMarket, commits })
    await advance(window + 1)
    const batchFinalized = await finalizeBatch(verifier, { jobMarket, jobIds: batchAwarded.jobIds })
    return perJob(
      `${label}batch`,
      ['awardBatch', 'commitBatch', 'finalizeBatch'],
      [batchAwarded, batchCommitted, batchFinalized],
    )
  }
  /** Logs a batch's three transactions and returns their gas per job; every job must be paid. */
  const perJob = (label, names, results) => {
    if (results[2].finalized.length !== BATCH)
      throw new Error(`bench: the ${label} did not finalize every job`)
    const gas = results.map(gasOf)
    const each = gas.map((g) => Math.round(g / BATCH)).join(' + ')
    log(`${label} of ${BATCH}: ${names.map((n, i) => `${n} ${gas[i]}`).join(', ')} (per job ${each})`)
    return Math.round(gas.reduce((a, b) => a + b, 0) / BATCH)
  }
  const batchedPerJobStored = await batch('')

  let compactNumber = 0n
  const compactJob = async () => {
    compactNumber += 1n
    return signedJob(undefined, compactSalt(compactNumber))
  }
  const compact = async (label) => {
    const awards = []
    for (let i = 0; i < BATCH; i++) awards.push(await compactJob())
    const awarded = await awardCompact(requester, { jobMarket, awards })
    const commits = awarded.jobs.map((_, index) => ({ index, resultRoot: tree.root }))
    const committed = await commitCompact(provider, { jobMarket, jobs: awarded.jobs, commits })
    await advance(window + 1)
    const finalized = await finalizeCompact(verifier, { jobMarket, jobs: awarded.jobs })
    return perJob(
      `${label}compact batch`,
      ['awardCompact', 'commitCompact', 'finalizeCompact'],
      [awarded, committed, finalized],
    )
  }
  // the first compact batch creates the requester's salt word
  await compact('first ')
  const batchedPerJob = await compact('')
  const materializeCompact = await (async () => {
    const awards = [await compactJob(), await compactJob()]
    const awarded = await awardCompact(requester, { jobMarket, awards })
    await commitCompact(provider, {
      jobMarket,
      jobs: awarded.jobs,
      commits: [{ index: 0, resultRoot: tree.root }],
    })
    return gasOf(await materializeCompactJob(verifier, { jobMarket, jobs: awarded.jobs, index: 0 }))
  })()

  // Prepaid: a deposit covering every price below, and payouts credited to the provider's
  // balance. The first deposit and the first credited payout create the two balances; the
  // figures are taken after that, as for the provider's first job above.
  await depositBalance(requester, { jobMarket, amount: parseEther('10000') })
  const depositGas = gasOf(await depositBalance(requester, { jobMarket, amount: parseEther('10000') }))
  await setPayoutToBalance(provider, { jobMarket, enabled: true })
  await happy()
  const prepaid = await happy()
  const batchedPerJobStoredPrepaid = await batch('prepaid ')
  const batchedPerJobPrepaid = await compact('prepaid ')
  const withdrawGas = gasOf(await withdrawBalance(provider, { jobMarket, amount: parseEther('1') }))

  const figures = {
    stake: stakeGas,
    award: steady.award,
    commitResult: steady.commitResult,
    finalize: steady.finalize,
    challenge: challengeGas,
    resolve: resolveGas,
    expire: expireGas,
    happyPath: steady.happyPath,
    awardAttributed: attributed.award,
    finalizeAttributed: attributed.finalize,
    happyPathAttributed: attributed.happyPath,
    batchedPerJob,
    deposit: depositGas,
    withdraw: withdrawGas,
    awardPrepaid: prepaid.award,
    finalizePrepaid: prepaid.finalize,
    happyPathPrepaid: prepaid.happyPath,
    batchedPerJobPrepaid,
    batchedPerJobStored,
    batchedPerJobStoredPrepaid,
    materializeCompact,
  }
  log('gas used (steady state: the provider has completed a job before)')
  for (const [k, v] of Object.entries(figures)) log(`  ${k.padEnd(26)} ${String(v).padStart(8)}`)
  for (const key of ['happyPath', 'happyPathPrepaid'])
    log(`  target ${key} <= 200000: ${figures[key] <= 200_000 ? 'met' : 'NOT met'}`)
  for (const key of [
    'batchedPerJob',
    'batchedPerJobPrepaid',
    'batchedPerJobStored',
    'batchedPerJobStoredPrepaid',
  ])
    log(`  target ${key} <= 60000: ${figures[key] <= 60_000 ? 'met' : 'NOT met'}`)
  log(
    `first job of a fresh provider: award ${first.award}, commitResult ${first.commitResult}, finalize ${first.finalize}, happyPath ${first.happyPath}`,
  )
  if (json) console.log(JSON.stringify(figures))
} finally {
  await chain.stop()
}
