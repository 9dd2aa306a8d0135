/**
 * Finalizing a provider's due jobs together. Each tick collects the committed jobs whose
 * challenge window has passed and finalizes them in one `finalizeBatch` (up to
 * provider.settlementBatchMax a transaction): one base cost, one token transfer and one
 * stake unlock for the lot, instead of ~75 000 gas a job. The contract skips, rather than
 * reverts on, a job that cannot be finalized any more (a dispute opened on it meanwhile, or
 * finalized by someone else), so one such job does not sink the rest; the skipped ones are
 * followed up by the next reconcile, which reads the chain. A job finalized on its own (an
 * event's reconcile, or a tick with one due job) goes through the same code.
 */
import { finalize, finalizeBatch, getJob } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { batchSize } from '../../chain/group-send.js'
import { intentOutcome, sendWithIntent, sendWithIntents } from '../../chain/intents.js'
import type { JobLocks } from '../../state/job-locks.js'
import { observeSettlement } from '../metrics.js'
import type { ProviderContext } from './context.js'

const FINALIZABLE: readonly string[] = ['committed', 'challenged']

/**
 * Finalizes `jobIds` (all due when collected), up to provider.settlementBatchMax a
 * transaction, each batch under the locks of its jobs; resolves once each is answered.
 */
export async function finalizeTogether(
  ctx: ProviderContext,
  locks: JobLocks,
  jobIds: string[],
): Promise<void> {
  const size = batchSize(ctx.options.settlementBatchMax)
  for (let at = 0; at < jobIds.length; at += size) {
    const batch = jobIds.slice(at, at + size)
    await locks
      .runAll(batch, () => finalizeNow(ctx, batch))
      .catch((err: unknown) =>
        ctx.log.warn({ jobs: batch, err }, 'finalizing failed; the next tick tries again'),
      )
  }
}

/**
 * Finalizes the candidates still open on their records, holding their locks: one job with
 * `finalize` (cheaper than a batch of one), more with `finalizeBatch`. A finalize sent before
 * a restart and still pending is not sent again.
 */
export async function finalizeNow(ctx: ProviderContext, candidates: readonly string[]): Promise<void> {
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
  const [only] = jobIds
  if (jobIds.length === 1 && only !== undefined) return finalizeOne(ctx, only)
  if (jobIds.length > 1) return finalizeMany(ctx, jobIds)
}

async function finalizeOne(ctx: ProviderContext, jobId: Hex): Promise<void> {
  const { chain, state } = ctx.components
  const jobMarket = chain.deployment.addresses.jobMarket
  try {
    const { hash, receipt } = await sendWithIntent(ctx.components, {
      jobId,
      action: 'finalize',
      send: (onSent) => finalize(chain.client, { jobMarket, jobId, onSent }),
    })
    observeSettlement(ctx.metrics, 'finalize', 1, receipt)
    await state.transitionJob(jobId, 'finalized', { txHash: hash })
    ctx.log.info({ jobId }, 'job finalized; payment collected')
  } catch (err) {
    // anyone may finalize: the requester's finalize may have landed first
    if ((await getJob(chain.client, { jobMarket, jobId })).status !== 'finalized') throw err
    await state.transitionJob(jobId, 'finalized', { note: 'finalized on-chain by another party' })
  }
}

async function finalizeMany(ctx: ProviderContext, jobIds: Hex[]): Promise<void> {
  const { chain, state } = ctx.components
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
