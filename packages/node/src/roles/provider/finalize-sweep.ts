/**
 * Finalizing a provider's due jobs together. Each tick collects the committed jobs whose
 * challenge window has passed and finalizes them in one `finalizeBatch` (up to
 * provider.settlementBatchMax a transaction): one base cost, one token transfer and one
 * stake unlock for the lot, instead of ~75 000 gas a job. The contract skips, rather than
 * reverts on, a job that cannot be finalized any more (a dispute opened on it meanwhile, or
 * finalized by someone else), so one such job does not sink the rest; the skipped ones are
 * followed up by the next reconcile, which reads the chain.
 */
import { finalizeBatch } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { intentOutcome, sendWithIntents } from '../../chain/intents.js'
import type { JobLocks } from '../../state/job-locks.js'
import { observeSettlement } from '../metrics.js'
import type { ProviderContext } from './context.js'

const FINALIZABLE: readonly string[] = ['committed', 'challenged']

/** Finalizes `jobIds` (all due when collected) in batches; resolves once each batch is answered. */
export async function finalizeTogether(
  ctx: ProviderContext,
  locks: JobLocks,
  jobIds: string[],
): Promise<void> {
  const max = ctx.options.settlementBatchMax
  const size = Number.isInteger(max) && max > 0 ? max : 1
  for (let at = 0; at < jobIds.length; at += size) {
    const batch = jobIds.slice(at, at + size)
    await locks
      .runAll(batch, () => finalizeBatchNow(ctx, batch))
      .catch((err: unknown) =>
        ctx.log.warn({ jobs: batch, err }, 'finalizing a batch failed; the next tick tries again'),
      )
  }
}

async function finalizeBatchNow(ctx: ProviderContext, candidates: string[]): Promise<void> {
  const { chain, state } = ctx.components
  // what the tick saw may have moved while the locks were taken
  const jobIds: Hex[] = []
  for (const id of candidates) {
    const job = await state.getJob(id)
    if (job === undefined || !FINALIZABLE.includes(job.state)) continue
    if (job.intent?.action === 'finalize' && (await intentOutcome(chain.client, job.intent)) === 'pending')
      continue
    jobIds.push(id as Hex)
  }
  if (jobIds.length === 0) return
  const { hash, receipt, finalized, skipped } = await sendWithIntents(ctx.components, {
    jobs: jobIds.map((jobId) => ({ jobId })),
    action: 'finalize',
    send: (onSent) =>
      finalizeBatch(chain.client, { jobMarket: chain.deployment.addresses.jobMarket, jobIds, onSent }),
  })
  observeSettlement(ctx.metrics, 'finalize', jobIds.length, receipt)
  for (const jobId of finalized) await state.transitionJob(jobId, 'finalized', { txHash: hash })
  ctx.log.info(
    { finalized: finalized.length, skipped: skipped.length, txHash: hash },
    'jobs finalized together; payment collected',
  )
  if (skipped.length > 0)
    ctx.log.info({ skipped }, 'jobs skipped by the batch finalize: the next reconcile reads where they stand')
}
