/**
 * Committing a job's result on chain. A replay-verified job commits the Merkle root over its
 * leaves and is open to challenges until the window closes; a zk job is proved in the
 * prover's child process and the proof settles it in the same transaction.
 */
import { commitResult } from '@ocn/contracts-client'
import { decodeJobOffer, type JobOffer, MerkleTree } from '@ocn/protocol'
import { inferenceProofToJson } from '@ocn/prover'
import { type Hex, hexToBytes, toHex } from 'viem'
import { type ProviderJobDetail, providerDetail } from '../../state/job-detail.js'
import { fetchZkInputs, proveZkJob } from '../zk.js'
import { offerSpec, type ProviderContext, zkCircuitFor } from './context.js'

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

/** Records the leaves, commits their root on chain and marks the job committed. */
export async function commitComputedResult(
  ctx: ProviderContext,
  jobId: Hex,
  detail: ProviderJobDetail,
  result: ComputedResult,
): Promise<void> {
  const { state, chain } = ctx.components
  const { leaves, outputHash, tampered, started } = result
  const tree = MerkleTree.fromDataHashes(leaves)
  await state.updateJob(jobId, {
    resultRoot: tree.root,
    detail: {
      ...detail,
      dataHashes: leaves,
      outputHash,
      ...(tampered.length > 0 ? { cheatedIndices: tampered } : {}),
    },
  })
  ctx.metrics.executionSeconds.observe((Date.now() - started) / 1000)
  const { hash } = await chain.serialize(() =>
    commitResult(chain.client, {
      jobMarket: chain.deployment.addresses.jobMarket,
      jobId,
      resultRoot: tree.root,
      leafCount: leaves.length,
    }),
  )
  await state.transitionJob(jobId, 'committed', {
    txHash: hash,
    note: `executed in ${Date.now() - started} ms`,
  })
  ctx.metrics.resultsCommitted.inc({
    kind: decodeJobOffer(hexToBytes(detail.offer)).terms.kind === 1 ? 'training' : 'inference',
  })
  ctx.log.info({ jobId, root: tree.root, leaves: leaves.length }, 'result committed')
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
  const { proof, txHash } = await proveZkJob({
    client: chain.client,
    jobMarket: chain.deployment.addresses.jobMarket,
    jobId,
    artifacts: circuit,
    inputs,
    send: (write) => chain.serialize(write),
  })
  metrics.executionSeconds.observe((Date.now() - started) / 1000)
  const root = toHex(BigInt(proof.commitments.outputCommitment), { size: 32 })
  // the proof JSON (with the output vector) is what the requester fetches as the result
  const put = await store.putBytes(new TextEncoder().encode(JSON.stringify(inferenceProofToJson(proof))))
  const job = await state.requireJob(jobId)
  await state.transitionJob(jobId, 'committed', {
    txHash,
    patch: {
      resultRoot: root,
      detail: { ...providerDetail(job), outputHash: put.hash },
    },
    note: `proved in ${Date.now() - started} ms`,
  })
  metrics.resultsCommitted.inc({ kind: 'inference' })
  // the proof settled it in the same transaction
  await state.transitionJob(jobId, 'finalized', { note: 'zk proof checked on-chain' })
  log.info({ jobId, output: proof.output }, 'zk result proved and settled')
}
