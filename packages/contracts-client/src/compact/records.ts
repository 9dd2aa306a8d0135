/**
 * The records of a compact batch (`JobMarket.awardCompact`). The JobMarket stores one lane per
 * compact job (its status and the end of its window) and nothing else: every later call on the
 * batch passes all its jobs' records, which the contract checks against the batch id. A client
 * keeps them, or rebuilds them from the award transaction's logs (`compactBatchesFromLogs`, `getCompactBatch`).
 */
import {
  type Address,
  encodeAbiParameters,
  getAbiItem,
  type Hex,
  keccak256,
  type Log,
  parseEventLogs,
  zeroHash,
} from 'viem'
import { ContractsClientError, ContractsClientErrorCode } from '../errors.js'
import { jobMarketAbi } from '../generated/abis.js'

/** The tag in the top 32 bits of a compact offer's salt ("OCNC", `JobMarket.COMPACT_SALT_TAG`). */
export const COMPACT_SALT_TAG = 0x4f434e43n
/** The first compact salt (`JobMarket.COMPACT_SALT`): the tag, then 224 bits of number. */
export const COMPACT_SALT = COMPACT_SALT_TAG << 224n
const SALT_NUMBER_LIMIT = 1n << 224n

/**
 * The salt of a compact offer: `COMPACT_SALT + number`. A requester uses each number once; the
 * JobMarket keeps them as a bitmap, so counting up from 0 costs the least gas.
 */
export function compactSalt(number: bigint): bigint {
  if (number < 0n || number >= SALT_NUMBER_LIMIT) {
    throw new ContractsClientError(
      ContractsClientErrorCode.INVALID_ARGUMENT,
      `a compact salt number is from 0 to 2^224 - 1, got ${number}`,
    )
  }
  return COMPACT_SALT + number
}

/**
 * Whether an offer with this salt is a compact offer: only `awardCompact` can award it, and
 * `award`/`awardBatch` refuse it (`SaltSpaceMismatch`). A party that draws salts at random
 * must redraw one that is (one draw in 2^32), and a provider that cannot serve compact jobs
 * must not bid on such an offer.
 */
export function isCompactSalt(salt: bigint): boolean {
  return salt >> 224n === COMPACT_SALT_TAG
}

/** One job of a compact batch, as `JobMarket.CompactJob`. */
export interface CompactJob {
  jobId: Hex
  price: bigint
  collateral: bigint
  requesterId: number
  providerId: number
  deadline: number
  leafCount: number
  termsId: number
  challengeWindow: number
  attributionBps: number
  fundedFromBalance: boolean
  payoutToBalance: boolean
  /** the model whose attribution weights take `attributionBps`; zero when it owes none */
  modelHash: Hex
}

/** A compact batch: its id and its jobs' records, in order. */
export interface CompactBatch {
  batchId: Hex
  jobs: CompactJob[]
}

const compactJobType = [
  {
    type: 'tuple',
    components: getAbiItem({ abi: jobMarketAbi, name: 'finalizeCompact' }).inputs[0].components,
  },
] as const

/** The batch id the JobMarket computes for `jobs`: keccak256 over each job's abi-encoded hash. */
export function compactBatchIdOf(jobs: readonly CompactJob[]): Hex {
  const hashes = jobs.map((job) => keccak256(encodeAbiParameters(compactJobType, [job])))
  return keccak256(`0x${hashes.map((h) => h.slice(2)).join('')}`)
}

const BYTES_PER_JOB = 7

/**
 * The compact batches awarded in a transaction, from its logs: each `CompactBatchAwarded` with
 * the `JobAwarded` events right before it (one per job, in order). Each batch is checked against
 * its id, so a record rebuilt wrong is an error here, not a revert later.
 */
export function compactBatchesFromLogs(logs: readonly Log[], jobMarket: Address): CompactBatch[] {
  const own = logs.filter((l) => l.address.toLowerCase() === jobMarket.toLowerCase())
  const events = parseEventLogs({ abi: jobMarketAbi, logs: own })
  const awarded: Extract<(typeof events)[number], { eventName: 'JobAwarded' }>[] = []
  const batches: CompactBatch[] = []
  for (const event of events) {
    if (event.eventName === 'JobAwarded') awarded.push(event)
    if (event.eventName !== 'CompactBatchAwarded') continue
    const { batchId, requesterId, termsId, challengeWindow, jobs: packed } = event.args
    const count = (packed.length - 2) / 2 / BYTES_PER_JOB
    if (!Number.isInteger(count) || count > awarded.length)
      throw malformed(
        batchId,
        `${(packed.length - 2) / 2} bytes of job data and ${awarded.length} JobAwarded events`,
      )
    const jobs = awarded.splice(awarded.length - count, count).map((award, i): CompactJob => {
      const a = award.args
      const at = 2 + i * BYTES_PER_JOB * 2
      const providerId = Number.parseInt(packed.slice(at, at + 8), 16)
      const attributionBps = Number.parseInt(packed.slice(at + 8, at + 12), 16)
      const flags = Number.parseInt(packed.slice(at + 12, at + 14), 16)
      return {
        jobId: a.jobId,
        price: a.price,
        collateral: a.collateral,
        requesterId,
        providerId,
        deadline: Number(a.deadline),
        leafCount: Math.ceil(a.sampleCount / a.microBatchSize),
        termsId,
        challengeWindow,
        attributionBps,
        fundedFromBalance: (flags & 1) !== 0,
        payoutToBalance: (flags & 2) !== 0,
        modelHash: attributionBps !== 0 ? a.modelHash : zeroHash,
      }
    })
    if (compactBatchIdOf(jobs).toLowerCase() !== batchId.toLowerCase())
      throw malformed(batchId, 'the records rebuilt from the logs do not hash to the batch id')
    batches.push({ batchId, jobs })
  }
  return batches
}

function malformed(batchId: Hex, why: string): ContractsClientError {
  return new ContractsClientError(
    ContractsClientErrorCode.RPC,
    `cannot rebuild compact batch ${batchId} from its award's logs`,
    { details: why },
  )
}
