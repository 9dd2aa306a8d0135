/**
 * Reading a job from the requester's local API the way a user would follow it: a job that
 * died (no usable bid, no award, a no-show, an expiry) is offered again automatically under a
 * new id (requester.noBidReoffers), and the old record points to the new one, so the devnet
 * follows that chain.
 */

import type { Job } from '@ocn/client'
import { NO_BID_REOFFER_NOTE } from '@ocn/node'
import { DevnetError } from './errors.js'
import { devnetNodeApi } from './node-client.js'

export interface FollowedJob {
  /** The newest offer's job id. */
  id: string
  record: Job
  /** Automatic re-offers followed to get there. */
  reoffers: number
  /** the ids of the offers it replaced, oldest first (a no-show's award may still hold escrow) */
  superseded: string[]
  /** Failed without a bid, and the requester will offer it again shortly. */
  awaitingReoffer: boolean
}

/** At most this many hops: the requester's own cap is far lower (requester.noBidReoffers). */
const MAX_HOPS = 100

export async function readFollowingReoffers(
  api: string,
  jobId: string,
  options: { timeoutMs?: number } = {},
): Promise<FollowedJob> {
  const node = devnetNodeApi(api)
  let id = jobId
  const superseded: string[] = []
  for (let reoffers = 0; reoffers < MAX_HOPS; reoffers++) {
    const current = id
    const record = await node.call('read', (client) =>
      client.job(current, { timeoutMs: options.timeoutMs ?? 5_000 }),
    )
    const detail = record.detail as { reofferedAs?: unknown; reofferDueAt?: unknown } | undefined
    // failed, expired, or a no-show's award still open on chain: the new offer is the job now
    if (typeof detail?.reofferedAs === 'string') {
      superseded.push(id)
      id = detail.reofferedAs
      continue
    }
    const note = record.history.at(-1)?.note ?? ''
    return {
      id,
      record,
      reoffers,
      superseded,
      awaitingReoffer:
        typeof detail?.reofferDueAt === 'number' ||
        (record.state === 'failed' && note.startsWith(NO_BID_REOFFER_NOTE)),
    }
  }
  throw new DevnetError('DEVNET_PHASE_FAILED', `job ${jobId}: more than ${MAX_HOPS} re-offers`)
}
