#!/usr/bin/env node
/**
 * End-to-end benchmark on a devnet (anvil, 3 honest providers, a verifier, a requester, each
 * its own `ocn start` process over TCP): offer-to-result latency and throughput.
 *
 * - latency: jobs submitted one at a time; offer (the requester's record created) to
 *   result delivered (the requester holds the outputs, checked against the committed
 *   leaves); p50 and p95 over --latency-jobs jobs, with the bidding window at 500 ms.
 * - throughput: --throughput-jobs jobs submitted back to back; jobs per minute from the
 *   first submission to the last result delivered.
 * These jobs are warm: they all run the same model on the same inputs, and a first job, not
 * measured, has put both files in the providers' stores. Every job is followed through the
 * requester's re-offers (a round without a usable bid offers it again under a new id), and its
 * latency runs from its first offer.
 * - cold: --cold-jobs jobs one at a time, each with a model of its own (other weights, so
 *   another content hash) and inputs of its own, which the awarded provider has never seen and
 *   fetches from the requester over libp2p (its check before the bid fetches them; a check
 *   that outlasts its half of the bidding window means no bid and a re-offer, which the
 *   latency includes: `coldReoffers` counts them). Offer (the first offer's record) to result
 *   delivered, as for the warm jobs.
 *
 * Usage: npm run bench:e2e -- [--latency-jobs 10] [--throughput-jobs 12] [--cold-jobs 5]
 *   [--bidding-window 500] [--json]
 * The last stdout line is one JSON object with --json: { p50Ms, p95Ms, jobsPerMinute, ...,
 * coldJobs, coldOfferToResultP50Ms, coldOfferToResultP95Ms, coldMinMs, coldMaxMs, coldReoffers, coldFileBytes } (the
 * warm keys as before; coldFileBytes is one cold job's model plus inputs).
 */
import '@ocn/protocol/polyfill'
import { stat } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import {
  createWorkload,
  devnetNodeApi,
  readFollowingReoffers,
  startDevnet,
} from '../packages/cli/dist/devnet/index.js'

const { values: args } = parseArgs({
  options: {
    'latency-jobs': { type: 'string', default: '10' },
    'throughput-jobs': { type: 'string', default: '12' },
    'cold-jobs': { type: 'string', default: '5' },
    'bidding-window': { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
  },
})
const latencyJobs = Number(args['latency-jobs'])
const throughputJobs = Number(args['throughput-jobs'])
const coldJobs = Number(args['cold-jobs'])
const biddingWindowMs = Number(args['bidding-window'])
const log = (text) => (args.json ? process.stderr : process.stdout).write(`${text}\n`)

function percentile(sorted, p) {
  if (sorted.length === 0) return null
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, index)]
}

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => controller.abort())

const devnet = await startDevnet(
  {
    cheater: false,
    providers: 3,
    biddingWindowMs,
    nodeLogLevel: 'warn',
    // the job market only: no zk circuit, datanet or governance to prepare
    phases: [],
    signal: controller.signal,
  },
  { onEvent: (e) => e.type === 'step' && log(`devnet: ${e.message}`) },
)
try {
  const workload = await createWorkload(`${devnet.dir}/bench-workload`, {
    inferenceJobs: 1,
    trainingJob: false,
    samplesPerJob: 64,
    microBatchSize: 8,
  })
  const spec = workload.jobs[0]
  const apiUrl = devnet.requester.api
  // the requester's API through @ocn/client (a submission may take up to its 60 s)
  const api = devnetNodeApi(apiUrl).client
  const body = {
    modelPath: spec.modelPath,
    inputsPath: spec.inputsPath,
    kind: 'inference',
    verification: 'replay',
    microBatchSize: spec.microBatchSize,
  }

  /**
   * Resolves with the job record once its results are held by the requester, following the
   * requester's re-offers: a provider whose check of files new to it outlasts its half of the
   * window does not bid, and the requester offers the job again under a new id.
   */
  async function delivered(jobId, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const followed = await readFollowingReoffers(apiUrl, jobId)
      const job = followed.record
      if (job.detail?.results !== undefined) return { job, at: Date.now(), reoffers: followed.reoffers }
      if (job.state === 'slashed' || (['expired', 'failed'].includes(job.state) && !followed.awaitingReoffer))
        throw new Error(`job ${jobId} ended ${job.state}`)
      if (Date.now() > deadline)
        throw new Error(`job ${jobId} not delivered within ${timeoutMs} ms (${job.state})`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  /** Each cold job: a fresh model (seed 1000 + i: other weights) and fresh inputs. */
  async function runColdJobs() {
    const latencies = []
    let reoffers = 0
    let fileBytes = 0
    for (let i = 0; i < coldJobs; i++) {
      const fresh = await createWorkload(`${devnet.dir}/bench-cold-${i + 1}`, {
        inferenceJobs: 1,
        trainingJob: false,
        samplesPerJob: 64,
        microBatchSize: 8,
        seed: 1000 + i,
      })
      const job = fresh.jobs[0]
      fileBytes = (await stat(job.modelPath)).size + (await stat(job.inputsPath)).size
      const { jobId } = await api.submit({
        ...body,
        modelPath: job.modelPath,
        inputsPath: job.inputsPath,
      })
      const offeredAt = (await api.job(jobId)).createdAt
      const done = await delivered(jobId)
      latencies.push(done.at - offeredAt)
      reoffers += done.reoffers
      log(
        `  cold job ${i + 1}: ${done.at - offeredAt} ms (provider ${done.job.provider}, ${done.reoffers} re-offers)`,
      )
    }
    return { latencies, reoffers, fileBytes }
  }

  // The first job brings the model and inputs to the providers (their checks before the bid
  // fetch them): it is cold, so it is not one of the warm figures.
  log("warm-up: one job (not measured) puts the files in the providers' stores")
  await delivered((await api.submit(body)).jobId)

  log(`latency: ${latencyJobs} jobs one at a time, bidding window ${biddingWindowMs} ms`)
  const latencies = []
  for (let i = 0; i < latencyJobs; i++) {
    const { jobId } = await api.submit(body)
    const offeredAt = (await api.job(jobId)).createdAt
    const { job, at, reoffers } = await delivered(jobId)
    latencies.push(at - offeredAt)
    log(`  job ${i + 1}: ${at - offeredAt} ms (provider ${job.provider}, ${reoffers} re-offers)`)
  }
  latencies.sort((a, b) => a - b)

  log(`throughput: ${throughputJobs} jobs back to back`)
  const started = Date.now()
  const ids = []
  for (let i = 0; i < throughputJobs; i++) ids.push((await api.submit(body)).jobId)
  const done = await Promise.all(ids.map((id) => delivered(id, 240_000)))
  const elapsedMs = Math.max(...done.map((d) => d.at)) - started
  const providers = new Set(done.map((d) => d.job.provider))

  log(`cold: ${coldJobs} jobs one at a time, each with a model and inputs no provider has`)
  const cold = await runColdJobs()
  cold.latencies.sort((a, b) => a - b)

  const result = {
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    minMs: latencies[0] ?? null,
    maxMs: latencies[latencies.length - 1] ?? null,
    jobsPerMinute: Math.round((throughputJobs / (elapsedMs / 60_000)) * 10) / 10,
    throughputJobs,
    throughputElapsedMs: elapsedMs,
    providersUsed: providers.size,
    biddingWindowMs,
    latencyJobs,
    samplesPerJob: 64,
    cpus: (await import('node:os')).cpus().length,
    coldJobs,
    coldOfferToResultP50Ms: percentile(cold.latencies, 50),
    coldOfferToResultP95Ms: percentile(cold.latencies, 95),
    coldMinMs: cold.latencies[0] ?? null,
    coldMaxMs: cold.latencies[cold.latencies.length - 1] ?? null,
    coldReoffers: cold.reoffers,
    coldFileBytes: cold.fileBytes,
  }
  if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`)
  else
    log(
      `offer to result: p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms; ${result.jobsPerMinute} jobs/min with 3 providers (${providers.size} used); ` +
        `cold: p50 ${result.coldOfferToResultP50Ms} ms, p95 ${result.coldOfferToResultP95Ms} ms (${cold.reoffers} re-offers)`,
    )
} finally {
  await devnet.stop()
}
