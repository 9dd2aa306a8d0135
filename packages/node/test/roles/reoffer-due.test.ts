/**
 * A job that dies (no usable bid, no award, an expiry) and will be offered again carries its
 * re-offer's due time in the same write as its death (reofferDuePatch): a reader following
 * re-offers never sees it failed or expired and final while its re-offer is still to come.
 */
import { describe, expect, it } from 'vitest'
import { reofferDuePatch } from '../../src/roles/requester/offer.js'
import type { JobRecord } from '../../src/state/records.js'

function requesterJob(attempts: number, detail: Record<string, unknown> = {}): JobRecord {
  return {
    id: `0x${'ab'.repeat(32)}`,
    role: 'requester',
    state: 'bidding',
    kind: 'inference',
    verification: 'replay',
    attempts,
    createdAt: 0,
    updatedAt: 0,
    history: [],
    detail: { role: 'requester', offer: '0x', biddingClosesAt: 0, streamed: [[1]], ...detail },
  }
}

describe('reofferDuePatch', () => {
  it('records the re-offer as due after the delay, keeping the rest of the detail, while the budget lasts', () => {
    const before = Date.now()
    const { patch } = reofferDuePatch(requesterJob(2), 2, 1_000)
    const detail = patch?.detail as { reofferDueAt?: number; streamed?: number[][]; offer?: string }
    expect(detail.reofferDueAt).toBeGreaterThanOrEqual(before + 1_000)
    expect(detail.reofferDueAt).toBeLessThanOrEqual(Date.now() + 1_000)
    expect(detail).toMatchObject({ offer: '0x', streamed: [[1]] })
  })

  it('writes nothing once the budget is spent, or when a re-offer is already due or done', () => {
    expect(reofferDuePatch(requesterJob(3), 2, 0)).toEqual({})
    expect(reofferDuePatch(requesterJob(1, { reofferDueAt: 5 }), 2, 0)).toEqual({})
    expect(reofferDuePatch(requesterJob(1, { reofferedAs: '0x01' }), 2, 0)).toEqual({})
  })
})
