// One job of the bench: the offer and bid as a default node makes them, the provider's leaves
// (true ones, or forgeries where it cheats), and each honest verifier's private sample.
import { award, ContractRevertError, commitResult, signBid } from '@ocn/contracts-client'
import { jobIdOf, MerkleTree } from '@ocn/protocol'
import { privateSampleSeed, sampleIndices, samplesForDetection } from '@ocn/prover'
import { encodeAbiParameters, keccak256, toHex } from 'viem'
import { e, GAS, now } from './world.mjs'

/**
 * Job terms. The price is the bench's choice; the collateral follows the node's default policy
 * (provider.collateral.priceMultiple = 2, and the requester asks minCollateral = maxPrice).
 * 1,024 samples in micro-batches of 4 give 256 leaves, so a verifier checks k < n of them.
 */
export const PRICE = e('40')
export const MAX_PRICE = e('50')
export const COLLATERAL = 2n * PRICE
export const SAMPLE_COUNT = 1024
export const MICRO_BATCH = 4
export const LEAF_COUNT = Math.ceil(SAMPLE_COUNT / MICRO_BATCH)
export const ETA_SECONDS = 120
/** The node's verifier defaults (packages/node/src/config/options.ts: verifier). */
export const TARGET_DETECTION = 0.99
export const MAX_SAMPLES_PER_JOB = 64
/** The sample size a default verifier draws, as roles/verifier/sample.ts computes it. */
export const SAMPLES = Math.min(
  LEAF_COUNT,
  MAX_SAMPLES_PER_JOB,
  samplesForDetection(LEAF_COUNT, 1 / LEAF_COUNT, TARGET_DETECTION),
)

const word = (tag) => keccak256(toHex(tag))
export const trueLeaf = (jobId, i) =>
  keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [jobId, BigInt(i)]))
const forgedLeaf = (jobId, i) =>
  keccak256(
    encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [word(`forged ${jobId}`), BigInt(i)]),
  )

let salt = 0n
let nonce = 0n

/**
 * An offer with bidding open for a minute and an hour to the deadline (or what `overrides(now)`
 * says), and the provider's signed bid, valid for ten minutes.
 */
export async function offerAndBid(w, requester, provider, overrides = () => ({})) {
  const t = await now(w)
  salt += 1n
  nonce += 1n
  const offer = {
    requester: requester.account.address,
    modelHash: word('economics model'),
    inputHash: word(`input ${salt}`),
    specHash: word('economics spec'),
    kind: 0,
    verification: 0,
    maxPrice: MAX_PRICE,
    minCollateral: MAX_PRICE,
    biddingEnds: t + 60n,
    deadline: t + 3600n,
    sampleCount: SAMPLE_COUNT,
    microBatchSize: MICRO_BATCH,
    salt,
    ...overrides(t),
  }
  const bid = {
    jobId: jobIdOf(offer),
    provider: provider.account.address,
    price: PRICE,
    collateral: COLLATERAL,
    expiry: t + 600n,
    nonce,
    etaSeconds: ETA_SECONDS,
  }
  const signature = await signBid(provider, { domain: w.domain, bid })
  return { offer, bid, signature }
}

/** Awards a fresh job inside its bidding period, with an eta that fits the deadline. */
export async function awardJob(w, requester, provider) {
  const { offer, bid, signature } = await offerAndBid(w, requester, provider)
  await award(requester, { jobMarket: w.addresses.jobMarket, offer, bid, signature, gas: GAS })
  return { jobId: bid.jobId, requester, provider, offer, bid }
}

/** Leaves the cheater forges: `count` distinct ones, chosen from the job id (the verifiers cannot know them). */
export function forgedSet(jobId, count) {
  if (count === 0) return new Set()
  return new Set(sampleIndices(keccak256(word(`cheat ${jobId}`)), jobId, LEAF_COUNT, count))
}

/** Commits the provider's result: true leaves except the forged ones. */
export async function commitJob(w, job, forged) {
  const leaves = Array.from({ length: LEAF_COUNT }, (_, i) =>
    forged.has(i) ? forgedLeaf(job.jobId, i) : trueLeaf(job.jobId, i),
  )
  const tree = MerkleTree.fromDataHashes(leaves)
  await commitResult(job.provider, {
    jobMarket: w.addresses.jobMarket,
    jobId: job.jobId,
    resultRoot: tree.root,
    leafCount: LEAF_COUNT,
    gas: GAS,
  })
  job.leaves = leaves
  job.root = tree.root
  job.forged = forged
  return job
}

/** Whether the committed leaf differs from what re-executing it gives (what a juror finds). */
export const isForged = (job, leaf) => job.leaves[leaf] !== trueLeaf(job.jobId, leaf)

/**
 * The forged leaves a verifier finds in its private sample: the seed is its own signature over
 * the committed root (privateSampleSeed), the sample SAMPLES leaves drawn from it.
 */
export async function findForged(w, verifier, job) {
  const { seed } = await privateSampleSeed(verifier.account, {
    chainId: w.chain.chain.id,
    jobMarket: w.addresses.jobMarket,
    jobId: job.jobId,
    resultRoot: job.root,
  })
  return sampleIndices(seed, job.jobId, LEAF_COUNT, SAMPLES).filter((i) => isForged(job, i))
}

/** Runs `call`; a decoded contract revert gives its error name, anything else is thrown. */
export async function refusal(call) {
  try {
    await call()
    return undefined
  } catch (err) {
    if (err instanceof ContractRevertError) return err.errorName
    throw err
  }
}
