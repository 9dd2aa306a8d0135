/**
 * Serving a job's committed leaves to verifiers and requesters: each asked leaf with its
 * Merkle proof under the committed root, and the output file's hash. A zk job has no leaves:
 * the chain checked its proof, and the output file is the proof JSON. Every answer passes
 * through the provider's fault plan, which hands it back unchanged unless a devnet cheat
 * withholds or mangles it.
 */
import { MerkleTree, type ResultLeaf, type ResultRequest, type ResultResponse } from '@ocn/protocol'
import type { Hex } from 'viem'
import { type ProviderJobDetail, providerDetail } from '../../state/job-detail.js'
import type { JobRecord } from '../../state/records.js'
import { committedResult } from './commit.js'
import type { ProviderContext } from './context.js'
import { type AnswerContext, honestFaultPlan, type ProviderFaultPlan } from './faults.js'

export async function serveResult(
  ctx: ProviderContext,
  request: ResultRequest,
  faults: ProviderFaultPlan = honestFaultPlan,
): Promise<ResultResponse> {
  const response = await honestAnswer(ctx, request)
  if (response.status !== 'ok') return response
  const { store } = ctx.components
  const at: AnswerContext = {
    jobId: request.jobId,
    log: ctx.log,
    publish: async (bytes) => (await store.putBytes(bytes)).hash,
    read: (hash) => store.getBytes(hash),
  }
  return faults.tamperAnswer(at, request, response)
}

async function honestAnswer(ctx: ProviderContext, request: ResultRequest): Promise<ResultResponse> {
  const base = { version: 1 as const, jobId: request.jobId }
  const job = await ctx.components.state.getJob(request.jobId)
  if (job === undefined || job.role !== 'provider') return { ...base, status: 'not-found' }
  const detail = providerDetail(job)
  if (job.verification === 'zk') return serveZkResult(job, detail, request)
  const { dataHashes, outputHash } = detail
  if (!(await committedResult(ctx, job)) || dataHashes === undefined || outputHash === undefined) {
    return { ...base, status: 'not-ready' }
  }
  if (request.indices.some((i) => i >= dataHashes.length)) return { ...base, status: 'bad-request' }
  const tree = MerkleTree.fromDataHashes(dataHashes)
  const leaves: ResultLeaf[] = request.indices.map((index) => ({
    index,
    dataHash: dataHashes[index]!,
    proof: tree.proof(index),
  }))
  return {
    ...base,
    status: 'ok',
    result: { resultRoot: tree.root, leafCount: dataHashes.length, outputHash, leaves },
  }
}

function serveZkResult(job: JobRecord, detail: ProviderJobDetail, request: ResultRequest): ResultResponse {
  const base = { version: 1 as const, jobId: request.jobId }
  if (job.resultRoot === undefined || detail.outputHash === undefined) return { ...base, status: 'not-ready' }
  if (request.indices.length > 0) return { ...base, status: 'bad-request' }
  return {
    ...base,
    status: 'ok',
    result: {
      resultRoot: job.resultRoot as Hex,
      leafCount: 0,
      outputHash: detail.outputHash,
      leaves: [],
    },
  }
}
