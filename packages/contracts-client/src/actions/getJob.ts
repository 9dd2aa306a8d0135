import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
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
  /** seconds: the challenge window of the job's terms, copied at award (commit opens it) */
  challengeWindow: number
  resultRoot: Hex
}

export async function getJob(
  client: ProtocolReadClient,
  { jobMarket, jobId }: GetJobParameters,
): Promise<GetJobReturnType> {
  const job = await simulate('getJob', () =>
    readContract(client, { address: jobMarket, abi: jobMarketAbi, functionName: 'getJob', args: [jobId] }),
  )
  return { ...job, status: jobStatusName[job.status] ?? 'none' }
}
