import { Registry } from 'prom-client'
import { createMetricsFactory, type MetricsFactory } from '../metrics/index.js'

/** What the roles count: the market from each side, and what verification costs. */
export function createRoleMetrics(factory: MetricsFactory | undefined) {
  const m = factory ?? createMetricsFactory(new Registry())
  return {
    bidsSent: m.counter({ name: 'provider_bids_sent_total', help: 'Bids this provider sent' }),
    resultsCommitted: m.counter({
      name: 'provider_results_committed_total',
      help: 'Results this provider committed on-chain',
      labelNames: ['kind'] as const,
    }),
    executionSeconds: m.histogram({
      name: 'provider_execution_seconds',
      help: 'Time from starting a job to having its result ready to commit',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    }),
    unapprovedModelOffers: m.counter({
      name: 'provider_unapproved_model_offers_total',
      help: 'Offers not bid on under provider.models.onlyApproved, by the model registry status (or unreadable)',
      labelNames: ['status'] as const,
    }),
    prebidRejections: m.counter({
      name: 'provider_prebid_rejections_total',
      help: "Offers not bid on because the check of the job's artifacts before bidding failed or did not finish, by reason",
      labelNames: ['reason'] as const,
    }),
    unapprovedModelJobs: m.counter({
      name: 'requester_unapproved_model_jobs_total',
      help: 'Jobs refused under requester.models.onlyApproved, at submit or at award, by the model registry status',
      labelNames: ['stage', 'status'] as const,
    }),
    bidsReceived: m.counter({
      name: 'requester_bids_received_total',
      help: 'Valid bids received by this requester',
    }),
    jobsAwarded: m.counter({
      name: 'requester_jobs_awarded_total',
      help: 'Jobs this requester awarded on-chain',
    }),
    checks: m.counter({
      name: 'verifier_checks_total',
      help: 'Spot checks run by this verifier',
      labelNames: ['result'] as const,
    }),
    checkSeconds: m.histogram({
      name: 'verifier_check_seconds',
      help: 'Re-execution time of one spot check',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    }),
    challenges: m.counter({ name: 'verifier_challenges_total', help: 'Challenges this verifier opened' }),
    settlementJobs: m.histogram({
      name: 'settlement_transaction_jobs',
      help: 'Jobs one award, commit or finalize transaction of this node settled (more than 1: a batch call)',
      labelNames: ['action'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    }),
    settlementGas: m.counter({
      name: 'settlement_gas_used_total',
      help: "Gas used by this node's award, commit and finalize transactions",
      labelNames: ['action'] as const,
    }),
    juryVotes: m.counter({
      name: 'verifier_jury_votes_total',
      help: 'Votes this verifier committed as a drawn juror, by choice',
      labelNames: ['choice'] as const,
    }),
  }
}

export type RoleMetrics = ReturnType<typeof createRoleMetrics>

/** Counts one settlement transaction of `jobs` jobs and the gas its receipt says it used. */
export function observeSettlement(
  metrics: Pick<RoleMetrics, 'settlementJobs' | 'settlementGas'>,
  action: 'award' | 'commit' | 'finalize',
  jobs: number,
  receipt: { gasUsed: bigint },
): void {
  metrics.settlementJobs.observe({ action }, jobs)
  metrics.settlementGas.inc({ action }, Number(receipt.gasUsed))
}
