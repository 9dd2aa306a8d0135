/**
 * Whose fault a failed re-execution is. A verifier or juror replays a leaf with its own
 * executor, and for a training segment, a sequence chunk or a generated position it starts
 * from state the provider serves (a checkpoint, a cached state, a manifest). Only what the
 * provider served can count against the provider; this node's own trouble (an executor error,
 * ONNX Runtime failing, a timeout, a crashed worker, an artifact store error) never does.
 *
 * - `provider`: the provider's state is wrong: it does not match the hash the provider
 *   committed, or it is not a readable state at all; or the provider answered that it does not
 *   have a state its own committed manifest names (an honest provider keeps them on disk, so a
 *   restart does not lose them).
 * - `unserved`: the provider's state could not be had (the peer did not serve it, or its
 *   manifest lacks it). A provider restarting may serve it later: judged against the provider
 *   only once the grace for a restart is over, like a leaf not served.
 * - `own`: anything else. A challenger does not challenge on it; a juror abstains.
 */

import type { JobSpec } from '../../executor/spec.js'
import { P2PError, P2PErrorCode } from '../../p2p/index.js'

export type ReplayFault = 'provider' | 'unserved' | 'own'

/** Executor codes that say the start state the provider served is wrong (not this node's trouble). */
const PROVIDER_STATE_CODES: ReadonlySet<string> = new Set([
  // a start state whose hash is not the committed leaf
  'EXECUTOR_INPUT_MISMATCH',
  // a start state that is no safetensors file
  'EXECUTOR_FORMAT_INVALID',
])

export function replayFault(kind: JobSpec['kind'], error: unknown): ReplayFault {
  // an inference micro-batch replays from the job's own artifacts only: nothing of the provider's
  if (kind === 'inference') return 'own'
  if (error instanceof P2PError)
    return error.code === P2PErrorCode.ARTIFACT_NOT_FOUND ? 'provider' : 'unserved'
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ROLE_ARTIFACT_UNAVAILABLE') return 'unserved'
  if (typeof code === 'string' && PROVIDER_STATE_CODES.has(code)) return 'provider'
  return 'own'
}
