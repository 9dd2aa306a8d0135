/**
 * The provider's reconcile plan (roles/provider/reconcile-plan.ts) for every pair of record
 * state and on-chain status: each step is one the state machine allows, every terminal
 * on-chain state ends the record (so its job slot is free), and a restart finds its way
 * from any point.
 */
import type { JobStatus } from '@ocn/contracts-client'
import { describe, expect, it } from 'vitest'
import { reconcilePlan } from '../../src/roles/provider/reconcile-plan.js'
import { canTransition, type JobState } from '../../src/state/index.js'

const OPEN: readonly JobState[] = ['bidding', 'awarded', 'executing', 'committed', 'challenged']
/** the on-chain statuses each record state can meet (the chain only moves forward from the award) */
const REACHABLE: Record<JobStatus, readonly JobState[]> = {
  none: ['bidding'],
  awarded: ['bidding', 'awarded', 'executing'],
  expired: ['bidding', 'awarded', 'executing'],
  committed: OPEN,
  challenged: OPEN,
  finalized: OPEN,
  providerSlashed: OPEN,
}
const SLOT_HOLDERS: readonly JobState[] = ['awarded', 'executing']

function endState(local: JobState, status: JobStatus, mine = true): JobState {
  return reconcilePlan(local, status, mine).transitions.at(-1)?.to ?? local
}

describe('reconcilePlan', () => {
  it('plans only transitions the state machine allows', () => {
    for (const [status, locals] of Object.entries(REACHABLE) as [JobStatus, JobState[]][]) {
      for (const local of locals) {
        for (const mine of [true, false]) {
          let state = local
          for (const { to } of reconcilePlan(local, status, mine).transitions) {
            expect(canTransition(state, to), `${local} on ${status}: ${state} -> ${to}`).toBe(true)
            state = to
          }
        }
      }
    }
  })

  it('ends the record on every terminal on-chain state, from every open state, freeing its slot', () => {
    expect(endState('executing', 'providerSlashed')).toBe('slashed')
    expect(endState('awarded', 'providerSlashed')).toBe('slashed')
    expect(endState('challenged', 'providerSlashed')).toBe('slashed')
    expect(endState('executing', 'expired')).toBe('expired')
    expect(endState('awarded', 'expired')).toBe('expired')
    expect(endState('bidding', 'expired')).toBe('expired')
    for (const local of OPEN) {
      expect(endState(local, 'finalized')).toBe('finalized')
      expect(endState(local, 'providerSlashed')).toBe('slashed')
    }
    for (const status of ['expired', 'finalized', 'providerSlashed'] as const) {
      for (const local of REACHABLE[status]) {
        const end = endState(local, status)
        expect(SLOT_HOLDERS, `${local} on ${status} ends in ${end}`).not.toContain(end)
        expect(reconcilePlan(local, status, true).action).toBeUndefined()
      }
    }
  })

  it('records a commit that landed while the record said executing, then follows the chain', () => {
    expect(reconcilePlan('executing', 'committed', true)).toEqual({
      transitions: [{ to: 'committed', note: 'commit found on-chain (its record was not written: a crash)' }],
      action: 'finalize',
    })
    expect(reconcilePlan('executing', 'challenged', true).transitions.map((t) => t.to)).toEqual([
      'committed',
      'challenged',
    ])
    expect(reconcilePlan('bidding', 'finalized', true).transitions.map((t) => t.to)).toEqual([
      'awarded',
      'committed',
      'finalized',
    ])
  })

  it('runs an award, finalizes a commit (again after a dispute it won), closes a lost or stale bid', () => {
    expect(reconcilePlan('awarded', 'awarded', true)).toEqual({ transitions: [], action: 'execute' })
    expect(reconcilePlan('executing', 'awarded', true)).toEqual({ transitions: [], action: 'execute' })
    expect(reconcilePlan('bidding', 'awarded', true)).toMatchObject({
      transitions: [{ to: 'awarded' }],
      action: 'execute',
    })
    expect(reconcilePlan('committed', 'committed', true)).toEqual({ transitions: [], action: 'finalize' })
    expect(reconcilePlan('challenged', 'committed', true)).toEqual({ transitions: [], action: 'finalize' })
    expect(reconcilePlan('committed', 'challenged', true).transitions.map((t) => t.to)).toEqual([
      'challenged',
    ])
    expect(reconcilePlan('bidding', 'awarded', false).transitions.map((t) => t.to)).toEqual(['failed'])
    expect(reconcilePlan('bidding', 'none', false)).toEqual({ transitions: [], action: 'give-up-when-due' })
  })

  it('is a no-op where the record already matches the chain (an event and a tick racing)', () => {
    expect(reconcilePlan('challenged', 'challenged', true)).toEqual({ transitions: [] })
    expect(reconcilePlan('executing', 'awarded', false)).toEqual({ transitions: [] })
  })
})
