/**
 * What the devnet summary reports of its generate and sequence jobs beyond their state: the
 * requester's checked results (every leaf rebuilt from what the provider served) and, for a
 * generate job, the tokens the provider streamed while it generated them.
 */
import { apiGet, apiRoutes } from '@ocn/node'
import { sleep } from './sleep.js'

export interface DevnetJobResults {
  /** leaves the requester checked: chunks × streams, or prompts × maxNewTokens */
  leafCount: number
  /** every committed leaf matches what the provider served */
  verified: boolean
  /** generate jobs: the requester's checked tokens, per prompt */
  tokens?: number[][]
  /**
   * generate jobs: the tokens the provider streamed onto its job record while generating
   * (the API's event stream carries each update).
   * TODO(genstream): once tokens are streamed to the requester over p2p, read the requester's
   * own streamed copy here instead of the provider's record.
   */
  streamed?: number[][]
}

/** The requester saves results shortly after a job finalized; this long is waited for them. */
const RESULTS_WAIT_MS = 15_000
const POLL_MS = 250

function resultsOf(
  detail: unknown,
): { leafCount: number; verified: boolean; tokens?: number[][] } | undefined {
  const results = (detail as { results?: unknown } | undefined)?.results
  if (typeof results !== 'object' || results === null) return undefined
  const { leafCount, verified, tokens } = results as Record<string, unknown>
  if (typeof leafCount !== 'number' || typeof verified !== 'boolean') return undefined
  return { leafCount, verified, ...(Array.isArray(tokens) ? { tokens: tokens as number[][] } : {}) }
}

/**
 * A finalized job's results from the requester's API (waited for a little: they are fetched
 * after finalization), with the provider's streamed tokens when it is a generate job; undefined
 * when the requester has none in time.
 */
export async function readJobResults(
  requesterApi: string,
  providerApi: string | undefined,
  jobId: string,
  signal?: AbortSignal,
): Promise<DevnetJobResults | undefined> {
  const until = Date.now() + RESULTS_WAIT_MS
  let results: ReturnType<typeof resultsOf>
  for (;;) {
    const record = await apiGet(requesterApi, apiRoutes.job, { id: jobId }, { timeoutMs: 5_000 }).catch(
      () => undefined,
    )
    results = resultsOf(record?.detail)
    if (results !== undefined || Date.now() > until) break
    await sleep(POLL_MS, signal)
  }
  if (results === undefined) return undefined
  if (results.tokens === undefined || providerApi === undefined) return results
  const provided = await apiGet(providerApi, apiRoutes.job, { id: jobId }, { timeoutMs: 5_000 }).catch(
    () => undefined,
  )
  const generated = (provided?.detail as { generated?: unknown } | undefined)?.generated
  return Array.isArray(generated) ? { ...results, streamed: generated as number[][] } : results
}
