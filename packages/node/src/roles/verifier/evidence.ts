/**
 * What a spot check's findings are worth on the chain: the leaf to challenge and the hash
 * this verifier replayed for it. Anything the provider failed to do counts against it, never
 * as the verifier's error: a different result, a sampled leaf not served (or served without a
 * proof against the committed root, or malformed), a training segment that cannot start from
 * the provider's own checkpoint (wrong or unreadable; withheld once the grace for a provider
 * restart is over), and a committed leaf count other than the terms'. A failure of this
 * verifier's own replay (its executor, ONNX Runtime, a timeout: replay-fault.ts) is its own
 * problem and never a challenge: a challenge the jurors refute costs the challenger its bond
 * and half its stake at risk.
 */
import type { ReplayExecutor, SpotCheckMismatch } from '@ocn/prover'
import type { Hex } from 'viem'
import type { JobSpec } from '../../executor/spec.js'
import { RoleError } from '../errors.js'
import type { ChallengeEvidence } from './challenge.js'
import { replayFault } from './replay-fault.js'

/** The claim of a leaf this verifier could not replay (the provider withheld what it starts from). */
export const UNREPLAYABLE: Hex = `0x${'00'.repeat(32)}`

export interface Findings {
  kind: JobSpec['kind']
  mismatches: readonly SpotCheckMismatch[]
  /** the leaf count of the job's terms */
  termsLeafCount: number
  /** the leaf count the provider committed on the chain */
  committedLeafCount: number
  replay: ReplayExecutor
  /**
   * the challenge window's end is within the grace for a provider restart: a start state the
   * provider does not serve now counts against it (before that the check is retried)
   */
  lastChance: boolean
}

/** The challenge the findings support (undefined: the provider passed). */
export async function evidenceFor(findings: Findings): Promise<ChallengeEvidence | undefined> {
  const { mismatches, committedLeafCount: committed, termsLeafCount: terms } = findings
  // the chain only takes a leaf of the commitment
  const onChain = mismatches.filter((m) => m.index < committed)
  const different = onChain.find((m) => m.reason === 'different-result')
  if (different !== undefined) return { index: different.index, replayed: different.replayed }
  for (const missing of onChain) {
    if (missing.reason === 'replay-failed') {
      // a training segment or a sequence chunk starts from the provider's served state
      if (findings.kind === 'inference') continue
      const again = await replayed(findings, missing.index)
      // the start state came this time (it was busy before) and the leaf holds: no evidence
      if (again === missing.claimed) continue
      return { index: missing.index, replayed: again }
    }
    if (missing.reason !== 'not-served' && missing.reason !== 'bad-proof') continue
    const evidence = { index: missing.index, replayed: await replayed(findings, missing.index) }
    // a leaf not served at all may yet be served (a provider back from a restart): re-asked before the reveal
    return missing.reason === 'not-served' ? { ...evidence, unserved: true } : evidence
  }
  // a training segment re-run above either held or became evidence; one past the commitment did not run
  const failed = mismatches.find(
    (m) => m.reason === 'replay-failed' && (findings.kind === 'inference' || m.index >= committed),
  )
  if (failed !== undefined && 'error' in failed) {
    throw new RoleError('ROLE_REPLAY_FAILED', `re-executing micro-batch ${failed.index} failed here`, {
      details: `${failed.error}; check this node's executor (the check is retried while the window is open)`,
    })
  }
  if (committed === terms) return undefined
  // a count the terms do not fix: the first leaf past the terms, or the last one committed
  if (committed > terms) return { index: terms, replayed: UNREPLAYABLE }
  return { index: committed - 1, replayed: await replayed(findings, committed - 1) }
}

/**
 * This verifier's replay of leaf `index`. An inference micro-batch needs nothing from the
 * provider; a training segment starts from the provider's checkpoint, and when that is not
 * to be had the claim says so (UNREPLAYABLE).
 */
async function replayed(findings: Findings, index: number): Promise<Hex> {
  if (findings.kind === 'inference') {
    try {
      return await findings.replay.runMicroBatch(index)
    } catch (cause) {
      throw new RoleError('ROLE_REPLAY_FAILED', `re-executing micro-batch ${index} failed here`, {
        details: "check this node's executor (the check is retried while the window is open)",
        cause,
      })
    }
  }
  try {
    return findings.kind === 'sequence'
      ? await findings.replay.runMicroBatch(index)
      : await findings.replay.runTrainingSegment(index)
  } catch (cause) {
    const fault = replayFault(findings.kind, cause)
    if (fault === 'provider' || (fault === 'unserved' && findings.lastChance)) return UNREPLAYABLE
    throw new RoleError('ROLE_REPLAY_FAILED', `re-executing segment ${index} failed here`, {
      details:
        fault === 'unserved'
          ? "the provider's start state is not served yet; asked again while the window is open"
          : "check this node's executor (the check is retried while the window is open)",
      cause,
    })
  }
}
