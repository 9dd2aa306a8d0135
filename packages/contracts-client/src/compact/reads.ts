// Compact batches from the chain: a batch's records, a job's lane, materializing a job.
import type { Address, Hex } from 'viem'
import { getAbiItem } from 'viem'
import { getLogs, getTransactionReceipt, readContract, simulateContract } from 'viem/actions'
import { ContractsClientError, ContractsClientErrorCode } from '../errors.js'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import {
  type JobStatus,
  jobStatusName,
  type ProtocolReadClient,
  type ProtocolWalletClient,
  type WriteOptions,
  type WriteResult,
} from '../types.js'
import { type CompactBatch, type CompactJob, compactBatchesFromLogs } from './records.js'

export interface GetCompactBatchParameters {
  jobMarket: Address
  batchId: Hex
  /** where to start looking for the award (default: the chain's first block) */
  fromBlock?: bigint
}

const batchAwarded = getAbiItem({ abi: jobMarketAbi, name: 'CompactBatchAwarded' })

/** A compact batch's records, rebuilt from its award's logs (and checked against its id). */
export async function getCompactBatch(
  client: ProtocolReadClient,
  { jobMarket, batchId, fromBlock = 0n }: GetCompactBatchParameters,
): Promise<CompactBatch> {
  const fail = (message: string, details?: string) =>
    new ContractsClientError(ContractsClientErrorCode.RPC, message, details === undefined ? {} : { details })
  const logs = await simulate('getCompactBatch', () =>
    getLogs(client, {
      address: jobMarket,
      event: batchAwarded,
      args: { batchId },
      fromBlock,
      toBlock: 'latest',
    }),
  )
  const log = logs[0]
  if (!log?.transactionHash) throw fail(`no compact batch ${batchId} in this JobMarket`)
  const receipt = await simulate('getCompactBatch', () =>
    getTransactionReceipt(client, { hash: log.transactionHash }),
  )
  const batch = compactBatchesFromLogs(receipt.logs, jobMarket).find(
    (b) => b.batchId.toLowerCase() === batchId.toLowerCase(),
  )
  if (!batch) throw fail(`compact batch ${batchId} is not in its award's receipt`, log.transactionHash)
  return batch
}

export interface GetCompactJobStateParameters {
  jobMarket: Address
  batchId: Hex
  index: number
}

export interface GetCompactJobStateReturnType {
  /** 'none' for no such job, and for a job moved to ordinary storage (see `moved`, `getJob`) */
  status: JobStatus
  /** the end of its challenge window (0 before the commit) */
  challengeEnds: number
  /** materialized: it lives in ordinary storage now (`getJob`) */
  moved: boolean
}

/** A compact job's lane: its status and the end of its challenge window. */
export async function getCompactJobState(
  client: ProtocolReadClient,
  { jobMarket, batchId, index }: GetCompactJobStateParameters,
): Promise<GetCompactJobStateReturnType> {
  const [status, challengeEnds, moved] = await simulate('getCompactJobState', () =>
    readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'getCompactJobState',
      args: [batchId, BigInt(index)],
    }),
  )
  return { status: jobStatusName[status] ?? 'none', challengeEnds: Number(challengeEnds), moved }
}

export interface MaterializeCompactJobParameters extends WriteOptions {
  jobMarket: Address
  /** every job of the batch, in order */
  jobs: readonly CompactJob[]
  index: number
}

/**
 * Writes job `index` of a compact batch into ordinary storage (anyone may), so the DisputeCourt
 * can hold it and `finalize` or `expire` settle it: do this before challenging or expiring one.
 */
export async function materializeCompactJob(
  client: ProtocolWalletClient,
  { jobMarket, jobs, index, gas, onSent }: MaterializeCompactJobParameters,
): Promise<WriteResult & { jobId: Hex }> {
  const job = jobs[index]
  if (!job) {
    throw new ContractsClientError(
      ContractsClientErrorCode.INVALID_ARGUMENT,
      `no job ${index} in a batch of ${jobs.length}: pass the batch's records and an index below that`,
    )
  }
  const { request } = await simulate('materializeCompactJob', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'materializeCompactJob',
      args: [jobs, BigInt(index)],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'materializeCompactJob', onSent)
  return { ...result, jobId: job.jobId }
}
