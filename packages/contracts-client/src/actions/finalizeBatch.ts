import { type Address, type Hex, parseEventLogs } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface FinalizeBatchParameters extends WriteOptions {
  jobMarket: Address
  /** list a provider's jobs next to each other: each run of one provider is paid with one transfer */
  jobIds: readonly Hex[]
}

export type FinalizeBatchReturnType = WriteResult & {
  /** the jobs this transaction finalized, in order */
  finalized: Hex[]
  /** the jobs it skipped (not Committed, window still open, or a dispute open) */
  skipped: Hex[]
}

/**
 * Finalizes many jobs in one transaction (anyone may call it). Skips, rather than reverts on,
 * a job `finalize` would refuse, so a dispute opened on one job meanwhile does not sink the rest.
 */
export async function finalizeBatch(
  client: ProtocolWalletClient,
  { jobMarket, jobIds, gas, onSent }: FinalizeBatchParameters,
): Promise<FinalizeBatchReturnType> {
  const { request } = await simulate('finalizeBatch', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'finalizeBatch',
      args: [jobIds],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'finalizeBatch', onSent)
  const own = result.receipt.logs.filter((l) => l.address.toLowerCase() === jobMarket.toLowerCase())
  const logs = parseEventLogs({ abi: jobMarketAbi, logs: own })
  const finalized: Hex[] = []
  const skipped: Hex[] = []
  for (const log of logs) {
    if (log.eventName === 'JobFinalized') finalized.push(log.args.jobId)
    else if (log.eventName === 'FinalizeSkipped') skipped.push(log.args.jobId)
  }
  return { ...result, finalized, skipped }
}
