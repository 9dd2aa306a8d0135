/**
 * What the provider does to bring one record in line with the chain, as data: the
 * transitions that walk the record from its state to the job's on-chain status, then at most
 * one action. Pure, so that every pair of (record state, on-chain status) is tested, and
 * every terminal on-chain state provably ends the record (and frees its job slot).
 */
import type { JobStatus } from '@ocn/contracts-client'
import type { JobState } from '../../state/job-state.js'

export interface PlannedTransition {
  to: JobState
  note: string
}

export interface ReconcilePlan {
  transitions: PlannedTransition[]
  /**
   * `execute`: run (or join) the job; `finalize`: finalize once the challenge window has
   * passed; `give-up-when-due`: close a bid never awarded once the offer's deadline passed
   */
  action?: 'execute' | 'finalize' | 'give-up-when-due'
}

const EXECUTABLE: readonly JobState[] = ['awarded', 'executing']
const none: ReconcilePlan = { transitions: [] }

/**
 * The plan for a record in `local` whose job is `onChain` on the chain, awarded to this
 * provider (`mine`) or to another.
 */
export function reconcilePlan(local: JobState, onChain: JobStatus, mine: boolean): ReconcilePlan {
  if (onChain === 'none') return local === 'bidding' ? { transitions: [], action: 'give-up-when-due' } : none
  if (!mine)
    return local === 'bidding'
      ? { transitions: [{ to: 'failed', note: 'awarded to another provider' }] }
      : none
  const transitions: PlannedTransition[] = []
  let state = local
  const step = (to: JobState, note: string) => {
    transitions.push({ to, note })
    state = to
  }
  if (state === 'bidding') step('awarded', 'award found on-chain')
  switch (onChain) {
    case 'awarded':
      return { transitions, ...(EXECUTABLE.includes(state) ? { action: 'execute' as const } : {}) }
    case 'expired':
      if (EXECUTABLE.includes(state))
        step('expired', 'the job expired on-chain unexecuted; the collateral penalty was taken')
      return { transitions }
  }
  // the commit landed while the record still says awarded or executing (killed in between)
  if (EXECUTABLE.includes(state))
    step('committed', 'commit found on-chain (its record was not written: a crash)')
  switch (onChain) {
    case 'committed':
      return {
        transitions,
        ...(state === 'committed' || state === 'challenged' ? { action: 'finalize' as const } : {}),
      }
    case 'challenged':
      if (state === 'committed') step('challenged', 'challenged on-chain')
      return { transitions }
    case 'finalized':
      if (state === 'committed' || state === 'challenged') step('finalized', 'finalized on-chain')
      return { transitions }
    case 'providerSlashed':
      if (state === 'committed' || state === 'challenged') step('slashed', 'challenge upheld on-chain')
      return { transitions }
  }
}
