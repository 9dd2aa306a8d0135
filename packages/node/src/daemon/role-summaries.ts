/**
 * What the console's provider and verifier views read (`GET /provider`, `GET /providers`,
 * `GET /verifier`): summaries of the node's own job records, its provider terms from the
 * config, and providers' records read from the JobMarket.
 */
import type {
  ApiProviders,
  ProviderSettlement,
  ProviderStanding,
  ProviderSummary,
  VerifierReward,
  VerifierSummary,
} from '../api/interface.js'
import type { ChainService, ProviderRecordReading } from '../api/services.js'
import type { NodeConfig } from '../config/options.js'
import type { NodeKeys } from '../keys/keystore.js'
import { bidRisk } from '../roles/requester/ranking.js'
import { verifierDetail } from '../state/job-detail.js'
import type { JobRecord } from '../state/records.js'
import type { StateStore } from '../state/store.js'
import type { ComposedServices } from './interface.js'

/** settlements and reward entries served at most: the newest, enough for the console's chart */
export const MAX_SUMMARY_ENTRIES = 200

const settled = new Set(['finalized', 'slashed'])
const ended = new Set(['finalized', 'slashed', 'expired', 'failed'])
const running = new Set(['awarded', 'executing', 'committed', 'challenged'])

/** The record with the risk weight requesters rank the provider's bids by (no collateral credit). */
export function providerStanding(address: string, record: ProviderRecordReading): ProviderStanding {
  const risk = bidRisk(record, 0n, 0n)
  return { address, ...record, risk: Number(risk.numerator) / Number(risk.denominator) }
}

/** When the job reached its settled state (its history says; the record's last write otherwise). */
function settledAt(job: JobRecord): number {
  return job.history.findLast((entry) => entry.state === job.state)?.at ?? job.updatedAt
}

const payoutOf = (job: JobRecord): bigint | undefined =>
  job.detail?.role === 'provider' ? job.detail.payout : undefined

/** The provider's finalized and slashed jobs, oldest first, the newest MAX_SUMMARY_ENTRIES. */
export function providerSettlements(jobs: JobRecord[]): ProviderSettlement[] {
  return jobs
    .filter((job) => settled.has(job.state))
    .map((job) => ({
      jobId: job.id,
      at: settledAt(job),
      state: job.state as ProviderSettlement['state'],
      // the payout settlement reported; the price until this node has read that event
      earned: job.state === 'finalized' ? (payoutOf(job) ?? job.price ?? 0n) : 0n,
      slashedCollateral: job.state === 'slashed' ? (job.collateral ?? 0n) : 0n,
    }))
    .sort((a, b) => a.at - b.at)
    .slice(-MAX_SUMMARY_ENTRIES)
}

export async function summarizeProvider(parts: {
  config: NodeConfig
  state: StateStore
  address: string | undefined
  chain: ChainService | undefined
}): Promise<ProviderSummary> {
  const { config, state, address, chain } = parts
  const jobs = await state.listJobs({ role: 'provider' })
  const summary: ProviderSummary = {
    priceFloorPerSample: config.provider.priceFloorPerSample,
    maxConcurrentJobs: config.provider.maxConcurrentJobs,
    running: jobs.filter((job) => running.has(job.state)).length,
    devices: [...config.provider.devices],
    collateral: { ...config.provider.collateral },
    settlements: providerSettlements(jobs),
  }
  if (address === undefined) return summary
  summary.address = address
  // the page must show the node's terms even when the RPC endpoint is down
  const record = await chain?.providerRecord?.(address).catch(() => undefined)
  if (record !== undefined) summary.standing = providerStanding(address, record)
  return summary
}

function challengeCounts(jobs: JobRecord[]): VerifierSummary['challenges'] {
  const counts = { raised: 0, convicted: 0, abandoned: 0, open: 0 }
  for (const job of jobs) {
    const challenge = verifierDetail(job).challenge
    if (challenge === undefined) continue
    counts.raised += 1
    if (job.state === 'slashed') counts.convicted += 1
    else if (challenge.abandoned !== undefined || challenge.concede !== undefined) counts.abandoned += 1
    else if (!ended.has(job.state)) counts.open += 1
  }
  return counts
}

function rewardsOf(jobs: JobRecord[]): VerifierSummary['rewards'] {
  const entries: VerifierReward[] = []
  const totals = { challenger: 0n, juror: 0n, 'juror-penalty': 0n }
  for (const job of jobs) {
    for (const reward of verifierDetail(job).rewards ?? []) {
      totals[reward.kind] += reward.amount
      entries.push({
        jobId: job.id,
        kind: reward.kind,
        amount: reward.amount,
        blockNumber: reward.blockNumber,
        ...(reward.disputeId === undefined ? {} : { disputeId: reward.disputeId }),
        ...(reward.txHash === undefined ? {} : { txHash: reward.txHash }),
      })
    }
  }
  entries.sort((a, b) => (a.blockNumber > b.blockNumber ? -1 : a.blockNumber < b.blockNumber ? 1 : 0))
  return {
    challenger: totals.challenger,
    jurorFees: totals.juror,
    jurorPenalties: totals['juror-penalty'],
    entries: entries.slice(0, MAX_SUMMARY_ENTRIES),
  }
}

/** The verifier's checks, what they found, its challenges, its seats and what it was paid. */
export function summarizeVerifier(jobs: JobRecord[]): VerifierSummary {
  const reports = jobs.flatMap((job) => {
    const report = verifierDetail(job).report
    return report === undefined ? [] : [report]
  })
  const votes = jobs.flatMap((job) => verifierDetail(job).votes ?? [])
  const summary: VerifierSummary = {
    checks: reports.length,
    mismatches: reports.filter((report) => !report.passed).length,
    challenges: challengeCounts(jobs),
    jury: { seats: votes.length, revealed: votes.filter((vote) => vote.revealed === true).length },
    rewards: rewardsOf(jobs),
  }
  if (reports.length > 0)
    summary.meanDetectionProbability =
      reports.reduce((sum, report) => sum + report.detectionProbability, 0) / reports.length
  return summary
}

/** Adds the role views' providers for the roles and services this node runs. */
export function addRoleSummaries(
  providers: ApiProviders,
  parts: { config: NodeConfig; state: StateStore; services: ComposedServices; keys: NodeKeys | undefined },
): void {
  const { config, state, services, keys } = parts
  const { chain } = services
  const runs = (role: string) => services.roles.some((service) => service.role === role)
  if (runs('provider'))
    providers.providerSummary = () => summarizeProvider({ config, state, address: keys?.info.address, chain })
  if (runs('verifier'))
    providers.verifierSummary = async () => summarizeVerifier(await state.listJobs({ role: 'verifier' }))
  const readRecord = chain?.providerRecord?.bind(chain)
  if (readRecord !== undefined)
    providers.providerStandings = (addresses) =>
      Promise.all(addresses.map(async (address) => providerStanding(address, await readRecord(address))))
}
