import { type Address, getAbiItem, type Hex, zeroHash } from 'viem'
import { getLogs, readContract } from 'viem/actions'
import { ContractsClientError, ContractsClientErrorCode } from '../errors.js'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import { type JobStatus, jobStatusName, type ProtocolReadClient } from '../types.js'

export interface GetJobParameters {
  jobMarket: Address
  jobId: Hex
}

export interface GetJobReturnType {
  requester: Address
  provider: Address
  price: bigint
  collateral: bigint
  deadline: number
  challengeEnds: number
  /** fixed at award by the offer's terms; once committed, the count the provider committed */
  leafCount: number
  status: JobStatus
  /** a training job (its result may end with one attribution leaf after the checkpoints) */
  training: boolean
  /** 0 replay, 1 zk */
  verification: number
  /** attribution share (basis points) fixed at award; 0 when the job owes none */
  attributionBps: number
  /** DisputeCourt disputes open on the job (finalize waits for 0) */
  openDisputes: number
  /** seconds: the challenge window of the job's terms, fixed at award (commit opens it) */
  challengeWindow: number
  /** zero until committed; then the committed root (replay) or output commitment (zk) */
  resultRoot: Hex
  /** the block of a replay job's commit (0 before it, and for zk jobs) */
  commitBlock: number
}

const resultCommitted = getAbiItem({ abi: jobMarketAbi, name: 'ResultCommitted' })

/**
 * Reads a job. The JobMarket stores the result root of zk and training jobs only (a replay
 * inference job's root is read by no contract, so it stays in its `ResultCommitted` event and
 * saves the commit a storage slot); for those this fetches it from the commit's block, so every
 * reader sees the root as before.
 */
export async function getJob(
  client: ProtocolReadClient,
  { jobMarket, jobId }: GetJobParameters,
): Promise<GetJobReturnType> {
  const job = await simulate('getJob', () =>
    readContract(client, { address: jobMarket, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] }),
  )
  const status = jobStatusName[job.status] ?? 'none'
  if (job.resultRoot !== zeroHash || job.challengeEnds === 0) return { ...job, status }
  const resultRoot =
    job.commitBlock !== 0
      ? await committedRoot(client, jobMarket, jobId, job.commitBlock)
      : await compactRoot(client, jobMarket, jobId)
  return { ...job, status, resultRoot }
}

const materialized = getAbiItem({ abi: jobMarketAbi, name: 'CompactJobMaterialized' })
const compactCommitted = getAbiItem({ abi: jobMarketAbi, name: 'CompactCommitted' })

/**
 * The root of a committed job of a compact batch that was moved to ordinary storage (whose
 * commit block the market does not keep): its batch and index from `CompactJobMaterialized`,
 * then the batch's `CompactCommitted` before that. Both reads filter on an indexed topic.
 */
async function compactRoot(client: ProtocolReadClient, jobMarket: Address, jobId: Hex): Promise<Hex> {
  const moved = await simulate('getJob', () =>
    getLogs(client, {
      address: jobMarket,
      event: materialized,
      args: { jobId },
      fromBlock: 0n,
      toBlock: 'latest',
    }),
  )
  const m = moved.at(-1)
  if (m) {
    const { batchId, index } = m.args
    if (batchId === undefined || index === undefined)
      throw new ContractsClientError(
        ContractsClientErrorCode.RPC,
        `a CompactJobMaterialized log of job ${jobId} has no batch or index`,
      )
    const commits = await simulate('getJob', () =>
      getLogs(client, {
        address: jobMarket,
        event: compactCommitted,
        args: { batchId },
        fromBlock: 0n,
        toBlock: m.blockNumber,
      }),
    )
    for (const c of commits) {
      const k = c.args.indices?.indexOf(index) ?? -1
      const root = k >= 0 ? c.args.resultRoots?.[k] : undefined
      if (root !== undefined) return root
    }
  }
  throw new ContractsClientError(
    ContractsClientErrorCode.RPC,
    `job ${jobId} was committed in a compact batch, but the RPC returned no CompactJobMaterialized and CompactCommitted events for it: the node may prune logs (use an archive or full node that keeps them)`,
  )
}

/** The root in job `jobId`'s `ResultCommitted` event of block `block` (one block: a bounded read). */
async function committedRoot(
  client: ProtocolReadClient,
  jobMarket: Address,
  jobId: Hex,
  block: number,
): Promise<Hex> {
  const logs = await simulate('getJob', () =>
    getLogs(client, {
      address: jobMarket,
      event: resultCommitted,
      args: { jobId },
      fromBlock: BigInt(block),
      toBlock: BigInt(block),
    }),
  )
  const root = logs.at(-1)?.args.resultRoot
  if (root === undefined) {
    throw new ContractsClientError(
      ContractsClientErrorCode.RPC,
      `job ${jobId} was committed in block ${block}, but the RPC returned no ResultCommitted event for it there: the node may prune logs (use an archive or full node that keeps them), or the block was reorganized away (read again)`,
    )
  }
  return root
}
