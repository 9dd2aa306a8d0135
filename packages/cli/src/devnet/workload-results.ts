/**
 * What the devnet summary reports of its generate and sequence jobs beyond their state: the
 * requester's checked results (every leaf rebuilt from what the provider served) and, for a
 * generate job, the tokens the provider streamed while it generated them.
 */
import { devnetNodeApi } from './node-client.js'
import { sleep } from './sleep.js'

export interface DevnetJobResults {
  /** leaves the requester checked: chunks × streams, or prompts × maxNewTokens */
  leafCount: number
  /** every committed leaf matches what the provider served */
  verified: boolean
  /** generate jobs: the requester's checked tokens, per prompt */
  tokens?: number[][]
  /**
   * generate jobs: the tokens the requester received over `/ocn/tokens` while the provider
   * generated them (its job record's `streamed`), per prompt
   */
  streamed?: number[][]
}

/** The requester saves results shortly after a job finalized; this long is waited for them. */
const RESULTS_WAIT_MS = 15_000
const POLL_MS = 250

function resultsOf(detail: unknown): DevnetJobResults | undefined {
  const { results, streamed } = (detail ?? {}) as { results?: unknown; streamed?: unknown }
  if (typeof results !== 'object' || results === null) return undefined
  const { leafCount, verified, tokens } = results as Record<string, unknown>
  if (typeof leafCount !== 'number' || typeof verified !== 'boolean') return undefined
  return {
    leafCount,
    verified,
    ...(Array.isArray(tokens) ? { tokens: tokens as number[][] } : {}),
    ...(Array.isArray(tokens) && Array.isArray(streamed) ? { streamed: streamed as number[][] } : {}),
  }
}

/**
 * A finalized job's results from the requester's API (waited for a little: they are fetched
 * after finalization), with the tokens streamed to it when it is a generate job; undefined when
 * the requester has none in time.
 */
export async function readJobResults(
  requesterApi: string,
  jobId: string,
  signal?: AbortSignal,
): Promise<DevnetJobResults | undefined> {
  const requester = devnetNodeApi(requesterApi).client
  const until = Date.now() + RESULTS_WAIT_MS
  let results: DevnetJobResults | undefined
  for (;;) {
    const record = await requester.job(jobId, { timeoutMs: 5_000 }).catch(() => undefined)
    results = resultsOf(record?.detail)
    if (results !== undefined || Date.now() > until) break
    await sleep(POLL_MS, signal)
  }
  return results
}
