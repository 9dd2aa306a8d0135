/**
 * Group commit: every replay commit of the provider goes through one GroupSender
 * (chain/group-send.ts), so commits that become ready while another is on its way share the
 * next transaction as one `commitBatch` (~34 000 gas for a job committed alone, ~11 600 a job
 * in a batch of 32). A batch refused before it is sent is split into single commits; a batch
 * sent and failed leaves each job's intent with its hash, and each job's retry asks the chain
 * where it stands before it commits again.
 */
import { commitBatch, commitResult } from '@ocn/contracts-client'
import type { Hash, Hex } from 'viem'
import { GroupSender } from '../../chain/group-send.js'
import { sendWithIntents } from '../../chain/intents.js'
import type { Logger } from '../../core/logger.js'
import type { JobPatch } from '../../state/records.js'
import { observeSettlement, type RoleMetrics } from '../metrics.js'
import type { RoleComponents } from '../shared.js'
import type { ProviderFaultPlan } from './faults.js'

/** One job's commit, as `sendCommit` asks for it. */
export interface CommitRequest {
  jobId: Hex
  root: Hex
  leafCount: number
  /** written with the intent, before the transaction is sent (the leaves it commits to) */
  patch?: JobPatch
  faults: ProviderFaultPlan
}

export interface CommitQueueDeps {
  components: Pick<RoleComponents, 'chain' | 'state'>
  log: Logger
  /** the most jobs one transaction commits (1: a transaction per job) */
  batchMax: number
  metrics: Pick<RoleMetrics, 'settlementJobs' | 'settlementGas'>
}

export class CommitQueue {
  private readonly group: GroupSender<CommitRequest, Hash>

  constructor(private readonly deps: CommitQueueDeps) {
    this.group = new GroupSender({
      max: deps.batchMax,
      send: (requests, sent) => this.send(requests, sent),
      onSplit: (requests, err) =>
        deps.log.warn(
          { jobs: requests.map((r) => r.jobId), err },
          'a commit batch was refused before it was sent; committing its jobs one by one',
        ),
    })
  }

  /** Commits one job's root, alone or with the commits waiting beside it; the transaction's hash. */
  commit(request: CommitRequest): Promise<Hash> {
    return this.group.submit(request)
  }

  private async send(requests: readonly CommitRequest[], sent: () => void): Promise<Hash> {
    const { chain } = this.deps.components
    const client = chain.client
    const jobMarket = chain.deployment.addresses.jobMarket
    const { hash, receipt } = await sendWithIntents(this.deps.components, {
      jobs: requests.map((r) => ({ jobId: r.jobId, ...(r.patch === undefined ? {} : { patch: r.patch }) })),
      action: 'commit',
      send: (onSent) => {
        const [one] = requests
        return requests.length === 1 && one !== undefined
          ? commitResult(client, {
              jobMarket,
              jobId: one.jobId,
              resultRoot: one.root,
              leafCount: one.leafCount,
              onSent,
            })
          : commitBatch(client, {
              jobMarket,
              commits: requests.map((r) => ({ jobId: r.jobId, resultRoot: r.root, leafCount: r.leafCount })),
              onSent,
            })
      },
      afterSent: async (txHash) => {
        sent()
        for (const r of requests)
          await r.faults.afterCommitSent?.({ jobId: r.jobId, log: this.deps.log }, txHash)
      },
    })
    observeSettlement(this.deps.metrics, 'commit', requests.length, receipt)
    return hash
  }
}
