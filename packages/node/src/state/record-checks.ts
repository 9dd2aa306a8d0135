/** What every job and bid must satisfy before it is written; a write with a bad record fails whole. */
import { StateError } from './errors.js'
import { isJobState } from './job-state.js'
import type { BidRecord, JobRecord } from './records.js'

const nodeRoleNames: readonly string[] = ['provider', 'verifier', 'requester']

export function checkJob(record: JobRecord): void {
  const problem =
    typeof record.id !== 'string' || record.id === ''
      ? 'id must be a non-empty string'
      : record.id.includes('/')
        ? 'id must not contain "/"'
        : !nodeRoleNames.includes(record.role)
          ? `role "${String(record.role)}" is not a node role`
          : !isJobState(record.state)
            ? `state "${String(record.state)}" is not a job state`
            : undefined
  if (problem !== undefined) {
    throw new StateError('STATE_INVALID_RECORD', `invalid job record: ${problem}`)
  }
}

export function checkBid(bid: BidRecord): void {
  if (
    typeof bid.jobId !== 'string' ||
    bid.jobId === '' ||
    typeof bid.bidId !== 'string' ||
    bid.bidId === ''
  ) {
    throw new StateError(
      'STATE_INVALID_RECORD',
      'invalid bid record: jobId and bidId must be non-empty strings',
    )
  }
  if (typeof bid.price !== 'bigint' || typeof bid.collateral !== 'bigint') {
    throw new StateError(
      'STATE_INVALID_RECORD',
      `invalid bid record ${bid.bidId}: price and collateral must be bigints`,
    )
  }
}
