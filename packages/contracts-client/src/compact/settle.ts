// Compact batches on the requester's, the provider's and anyone's side: award, commit, finalize.
import type { BidTerms, OfferTerms } from '@ocn/protocol'
import { type Address, type Hex, parseEventLogs } from 'viem'
import { simulateContract } from 'viem/actions'
import { ContractsClientError, ContractsClientErrorCode } from '../errors.js'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { type CompactBatch, type CompactJob, compactBatchesFromLogs } from './records.js'

export interface AwardCompactParameters extends WriteOptions {
  jobMarket: Address
  /** one entry per job, as `awardBatch` takes them; each offer's salt a `compactSalt(n)` of
   * the client's account not used before, each offer a replay inference job */
  awards: readonly { offer: OfferTerms; bid: BidTerms; signature: Hex }[]
}

export type AwardCompactReturnType = WriteResult & CompactBatch

/**
 * Awards several jobs as one compact batch: the JobMarket stores a lane per job, not a job, so
 * every later call on the batch takes its records. Returns the batch id and the records
 * (keep them; `getCompactBatch` rebuilds them from the chain). All or nothing, as `awardBatch`.
 */
export async function awardCompact(
  client: ProtocolWalletClient,
  { jobMarket, awards, gas, onSent }: AwardCompactParameters,
): Promise<AwardCompactReturnType> {
  const { request } = await simulate('awardCompact', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'awardCompact',
      args: [awards.map((a) => a.offer), awards.map((a) => a.bid), awards.map((a) => a.signature)],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'awardCompact', onSent)
  const [batch] = compactBatchesFromLogs(result.receipt.logs, jobMarket)
  if (!batch) {
    throw new ContractsClientError(
      ContractsClientErrorCode.RPC,
      'the awardCompact receipt has no CompactBatchAwarded log',
      {
        details: result.hash,
      },
    )
  }
  return { ...result, ...batch }
}

export interface CommitCompactParameters extends WriteOptions {
  jobMarket: Address
  /** every job of the batch, in order (as `awardCompact` or `getCompactBatch` returned them) */
  jobs: readonly CompactJob[]
  /** the client's jobs to commit: their index in `jobs` and their result root */
  commits: readonly { index: number; resultRoot: Hex }[]
}

/** Commits the provider's jobs of a compact batch in one transaction. All or nothing. */
export async function commitCompact(
  client: ProtocolWalletClient,
  { jobMarket, jobs, commits, gas, onSent }: CommitCompactParameters,
): Promise<WriteResult> {
  const { request } = await simulate('commitCompact', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'commitCompact',
      args: [jobs, commits.map((c) => BigInt(c.index)), commits.map((c) => c.resultRoot)],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'commitCompact', onSent)
}

export interface FinalizeCompactParameters extends WriteOptions {
  jobMarket: Address
  /** every job of the batch, in order */
  jobs: readonly CompactJob[]
  /** the jobs to finalize, by index in `jobs` (all of them when left out); list a provider's
   * jobs together: each run of one provider is paid with one transfer */
  indices?: readonly number[]
}

export type FinalizeCompactReturnType = WriteResult & {
  /** the jobs this transaction finalized, in order */
  finalized: Hex[]
  /** those it skipped (not committed in the batch, materialized, or window still open) */
  skipped: Hex[]
}

/** Finalizes jobs of a compact batch (anyone may); skips, not reverts on, a job not yet due. */
export async function finalizeCompact(
  client: ProtocolWalletClient,
  { jobMarket, jobs, indices, gas, onSent }: FinalizeCompactParameters,
): Promise<FinalizeCompactReturnType> {
  const which = (indices ?? jobs.map((_, i) => i)).map(BigInt)
  const { request } = await simulate('finalizeCompact', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'finalizeCompact',
      args: [jobs, which],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'finalizeCompact', onSent)
  const own = result.receipt.logs.filter((l) => l.address.toLowerCase() === jobMarket.toLowerCase())
  const finalized: Hex[] = []
  const skipped: Hex[] = []
  for (const log of parseEventLogs({ abi: jobMarketAbi, logs: own })) {
    if (log.eventName === 'CompactFinalized') {
      for (const i of log.args.indices) finalized.push(jobs[Number(i)]!.jobId)
    } else if (log.eventName === 'FinalizeSkipped') skipped.push(log.args.jobId)
  }
  return { ...result, finalized, skipped }
}
