/**
 * Committing a job's result on chain. A replay-verified job commits the Merkle root over its
 * leaves and is open to challenges until the window closes; a zk job is proved in the
 * prover's child process and the proof settles it in the same transaction.
 */
import { getJob } from '@ocn/contracts-client'
import { type JobOffer, MerkleTree } from '@ocn/protocol'
import { inferenceProofToJson } from '@ocn/prover'
import { type Hex, toHex } from 'viem'
import { sendWithIntent } from '../../chain/intents.js'
import { providerDetail } from '../../state/job-detail.js'
import type { JobPatch, JobRecord } from '../../state/records.js'
import { RoleError } from '../errors.js'
import { fetchZkInputs, proveZkJob } from '../zk.js'
import { offerSpec, type ProviderContext, zkCircuitFor } from './context.js'
import type { ProviderFaultPlan } from './faults.js'

/** A replay-verified job's result, stored and ready to commit. */
export interface ComputedResult {
  /** one per micro-batch, or per checkpoint segment (and the attribution) for training */
  leaves: Hex[]
  /** content hash of the output file the requester fetches */
  outputHash: Hex
  /** the leaves the fault plan changed (none for an honest provider) */
  tampered: number[]
  /** when the execution started (ms) */
  started: number
}

/**
 * Records the leaves, the output's hash and the root together with the commit intent, then
 * sends the commit: a provider killed any time after this write answers spot-checks and
 * disputes with these leaves, and a restart commits them without running the job again.
 */
export async function commitComputedResult(
  ctx: ProviderContext,
  job: JobRecord,
  result: ComputedResult,
  faults: ProviderFaultPlan,
): Promise<void> {
  const { leaves, outputHash, tampered, started } = result
  ctx.metrics.executionSeconds.observe((Date.now() - started) / 1000)
  const patch: JobPatch = {
    resultRoot: MerkleTree.fromDataHashes(leaves).root,
    detail: {
      ...providerDetail(job),
      dataHashes: leaves,
      outputHash,
      ...(tampered.length > 0 ? { cheatedIndices: tampered } : {}),
    },
  }
  await sendCommit(ctx, { ...job, ...patch }, faults, {
    patch,
    note: `executed in ${Date.now() - started} ms`,
  })
}

/** The leaves, root and output a job's record holds once its result is computed, or undefined. */
export function persistedResult(job: JobRecord): { leaves: Hex[]; root: Hex; outputHash: Hex } | undefined {
  const { dataHashes, outputHash } = providerDetail(job)
  if (dataHashes === undefined || outputHash === undefined || job.resultRoot === undefined) return undefined
  return { leaves: dataHashes, root: job.resultRoot as Hex, outputHash }
}

const COMMITTED_STATES: readonly string[] = ['committed', 'challenged', 'finalized', 'slashed']
const COMMITTED_ON_CHAIN: readonly string[] = ['committed', 'challenged', 'finalized', 'providerSlashed']

/**
 * Whether `job`'s result is committed, so its leaves are served: by its record, or, for a
 * record a restart has not caught up yet (killed between the commit transaction and its
 * record), by the chain holding the root of the leaves on the record. A provider never
 * answers `not-ready` for a result it committed.
 */
export async function committedResult(ctx: ProviderContext, job: JobRecord): Promise<boolean> {
  if (COMMITTED_STATES.includes(job.state)) return true
  const result = persistedResult(job)
  if (result === undefined) return false
  const { chain } = ctx.components
  const onChain = await getJob(chain.client, {
    jobMarket: chain.deployment.addresses.jobMarket,
    jobId: job.id as Hex,
  })
  return COMMITTED_ON_CHAIN.includes(onChain.status) && onChain.resultRoot === result.root
}

/**
 * Commits the result on `job`'s record (written with `patch` in the intent's write) and marks it
 * committed. The commit queue may send it in one transaction with other jobs' commits.
 */
export async function sendCommit(
  ctx: ProviderContext,
  job: JobRecord,
  faults: ProviderFaultPlan,
  options: { patch?: JobPatch; note: string },
): Promise<void> {
  const { state } = ctx.components
  const jobId = job.id as Hex
  const result = persistedResult(job)
  if (result === undefined) throw new RoleError('ROLE_INVALID_PARAMS', `job ${jobId} has no result to commit`)
  const hash = await ctx.commits.commit({
    jobId,
    root: result.root,
    leafCount: result.leaves.length,
    ...(options.patch === undefined ? {} : { patch: options.patch }),
    faults,
  })
  await state.transitionJob(jobId, 'committed', { txHash: hash, note: options.note })
  ctx.metrics.resultsCommitted.inc({ kind: job.kind })
  ctx.log.info({ jobId, root: result.root, leaves: result.leaves.length }, 'result committed')
}

/** A zk-mode job: prove in the prover's child process; commitZkResult settles it at once. */
export async function proveAndCommitZkJob(ctx: ProviderContext, jobId: Hex, offer: JobOffer): Promise<void> {
  const { components, metrics, log } = ctx
  const { chain, state, store } = components
  const spec = offerSpec(offer)
  const circuit = await zkCircuitFor(ctx, offer.terms.modelHash)
  if (typeof circuit === 'string') throw new Error(`cannot prove job ${jobId}: ${circuit}`)
  const zkInput = spec?.kind === 'inference' ? spec.zkInput : undefined
  const inputs = await fetchZkInputs(components, zkInput, [offer.requesterPeerId])
  const started = Date.now()
  const job = await state.requireJob(jobId)
  const { proof, txHash } = await proveZkJob({
    client: chain.client,
    jobMarket: chain.deployment.addresses.jobMarket,
    jobId,
    artifacts: circuit,
    inputs,
    ...(components.progress === undefined ? {} : { progress: components.progress }),
    // the proof JSON (with the output vector) is what the requester fetches as the result:
    // stored and on the record with the intent before the transaction that pays for it
    send: async (write, proved) => {
      const put = await store.putBytes(new TextEncoder().encode(JSON.stringify(inferenceProofToJson(proved))))
      const patch: JobPatch = {
        resultRoot: toHex(BigInt(proved.commitments.outputCommitment), { size: 32 }),
        detail: { ...providerDetail(job), outputHash: put.hash },
      }
      return sendWithIntent(components, { jobId, action: 'zkCommit', patch, send: write })
    },
  })
  metrics.executionSeconds.observe((Date.now() - started) / 1000)
  await state.transitionJob(jobId, 'committed', { txHash, note: `proved in ${Date.now() - started} ms` })
  metrics.resultsCommitted.inc({ kind: 'inference' })
  // the proof settled it in the same transaction
  await state.transitionJob(jobId, 'finalized', { note: 'zk proof checked on-chain' })
  log.info({ jobId, output: proof.output }, 'zk result proved and settled')
}
