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
 *
 * Usage: npm run bench:e2e -- [--latency-jobs 10] [--throughput-jobs 12] [--bidding-window 500] [--json]
 * The last stdout line is one JSON object with --json: { p50Ms, p95Ms, jobsPerMinute, ... }.
 */
import '@ocn/protocol/polyfill'
import { parseArgs } from 'node:util'
import { createWorkload, devnetNodeApi, startDevnet } from '../packages/cli/dist/devnet/index.js'

const { values: args } = parseArgs({
  options: {
    'latency-jobs': { type: 'string', default: '10' },
    'throughput-jobs': { type: 'string', default: '12' },
    'bidding-window': { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
  },
})
const latencyJobs = Number(args['latency-jobs'])
const throughputJobs = Number(args['throughput-jobs'])
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
  { cheater: false, providers: 3, biddingWindowMs, nodeLogLevel: 'warn', signal: controller.signal },
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
  // the requester's API through @ocn/client (a submission may take up to its 60 s)
  const api = devnetNodeApi(devnet.requester.api).client
  const body = {
    modelPath: spec.modelPath,
    inputsPath: spec.inputsPath,
    kind: 'inference',
    verification: 'replay',
    microBatchSize: spec.microBatchSize,
  }

  /** Resolves with the job record once its results are held by the requester. */
  async function delivered(jobId, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const job = await api.job(jobId)
      if (job.detail?.results !== undefined) return { job, at: Date.now() }
      if (['slashed', 'expired', 'failed'].includes(job.state))
        throw new Error(`job ${jobId} ended ${job.state}`)
      if (Date.now() > deadline)
        throw new Error(`job ${jobId} not delivered within ${timeoutMs} ms (${job.state})`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  log(`latency: ${latencyJobs} jobs one at a time, bidding window ${biddingWindowMs} ms`)
  const latencies = []
  for (let i = 0; i < latencyJobs; i++) {
    const { jobId } = await api.submit(body)
    const { job, at } = await delivered(jobId)
    latencies.push(at - job.createdAt)
    log(`  job ${i + 1}: ${at - job.createdAt} ms (provider ${job.provider})`)
  }
  latencies.sort((a, b) => a - b)

  log(`throughput: ${throughputJobs} jobs back to back`)
  const started = Date.now()
  const ids = []
  for (let i = 0; i < throughputJobs; i++) ids.push((await api.submit(body)).jobId)
  const done = await Promise.all(ids.map((id) => delivered(id, 180_000)))
  const elapsedMs = Math.max(...done.map((d) => d.at)) - started
  const providers = new Set(done.map((d) => d.job.provider))

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
  }
  if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`)
  else
    log(
      `offer to result: p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms; ${result.jobsPerMinute} jobs/min with 3 providers (${providers.size} used)`,
    )
} finally {
  await devnet.stop()
}
