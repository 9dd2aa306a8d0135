/**
 * A juror's judgement when its replay fails: whose fault the failure is (replay-fault.ts), and
 * what the juror does once the commit deadline nears: guilty only for what the provider did not
 * serve or served wrong; its own trouble (an executor error, ONNX Runtime failing, a timeout,
 * a model it cannot get) is an abstention, never a guilty vote.
 */
import { CourtVote } from '@ocn/contracts-client'
import { type Hex, keccak256, toHex } from 'viem'
import { describe, expect, it } from 'vitest'
import { createSilentLogger } from '../../src/core/logger.js'
import { ExecutorError } from '../../src/executor/errors.js'
import { cpuReplayProfile } from '../../src/executor/spec.js'
import { P2PError, P2PErrorCode } from '../../src/p2p/errors.js'
import { RoleError } from '../../src/roles/errors.js'
import type { JobAssets } from '../../src/roles/shared.js'
import { verdictAtDeadline } from '../../src/roles/verifier/jury-verdict.js'
import { replayFault } from '../../src/roles/verifier/replay-fault.js'

const seat = { jobId: keccak256(toHex('job')), leafIndex: 3 }
const log = createSilentLogger()
const assets: JobAssets = {
  spec: { kind: 'inference', profile: cpuReplayProfile('1.24.0', 4) },
  specBytes: new Uint8Array(),
  model: new Uint8Array(),
  inputs: {},
}
const leaf: Hex = keccak256(toHex('leaf'))
const proven = { proven: new Map([[3, leaf]]), outputHash: leaf, root: leaf }

describe('replayFault', () => {
  const own = [
    new ExecutorError('EXECUTOR_RUN_FAILED', 'onnxruntime: bad alloc'),
    new ExecutorError('EXECUTOR_TIMEOUT', 'took too long'),
    new ExecutorError('EXECUTOR_WORKER_CRASHED', 'worker exited'),
    new ExecutorError('EXECUTOR_DEVICE_UNAVAILABLE', 'no such device'),
    new Error('ENOENT: model.onnx'),
    'a thrown string',
  ]

  it("an inference micro-batch replays from the job's artifacts only: every failure is the node's own", () => {
    for (const e of [...own, new ExecutorError('EXECUTOR_INPUT_MISMATCH', 'x')])
      expect(replayFault('inference', e)).toBe('own')
  })

  it('a state the provider served wrong is its fault; one it did not serve is unserved; the rest is own', () => {
    for (const kind of ['training', 'sequence', 'generate'] as const) {
      for (const e of own) expect(replayFault(kind, e)).toBe('own')
      expect(replayFault(kind, new ExecutorError('EXECUTOR_INPUT_MISMATCH', 'not its committed hash'))).toBe(
        'provider',
      )
      expect(replayFault(kind, new ExecutorError('EXECUTOR_FORMAT_INVALID', 'invalid safetensors'))).toBe(
        'provider',
      )
      expect(replayFault(kind, new P2PError(P2PErrorCode.ALL_PEERS_FAILED, 'no peer served it'))).toBe(
        'unserved',
      )
      expect(replayFault(kind, new RoleError('ROLE_ARTIFACT_UNAVAILABLE', 'no checkpoint 2'))).toBe(
        'unserved',
      )
      // the provider answered that it does not have a state its own manifest names
      const notFound = new P2PError(P2PErrorCode.ARTIFACT_NOT_FOUND, 'no peer has the artifact')
      expect(replayFault(kind, notFound)).toBe('provider')
    }
  })
})

describe('verdictAtDeadline', () => {
  it('abstains on a provider it never asked because it started too recently to have heard its ad', () => {
    const noPeer = { unserved: 'provider unreachable: no capability ad heard', noPeer: true }
    expect(
      verdictAtDeadline(log, seat, { assets, served: noPeer, trouble: undefined, heardEveryAd: false }),
    ).toBeUndefined()
    // up for a whole ad TTL without hearing it: the provider does not advertise, it is unreachable
    expect(
      verdictAtDeadline(log, seat, { assets, served: noPeer, trouble: undefined, heardEveryAd: true }),
    ).toMatchObject({ choice: CourtVote.guilty })
  })

  it("abstains (no vote) when the juror's own replay broke, even though the provider served its leaf", () => {
    const trouble = { fault: 'own' as const, message: 'onnxruntime: bad alloc' }
    expect(
      verdictAtDeadline(log, seat, { assets, served: proven, trouble, heardEveryAd: true }),
    ).toBeUndefined()
    // the provider gone since it served: still the juror's failure, not the provider's
    const gone = { unserved: 'provider unreachable' }
    expect(
      verdictAtDeadline(log, seat, { assets, served: gone, trouble, heardEveryAd: true }),
    ).toBeUndefined()
  })

  it('abstains when it could not get the job artifacts at all', () => {
    expect(
      verdictAtDeadline(log, seat, {
        assets: undefined,
        served: { unserved: 'x' },
        trouble: undefined,
        heardEveryAd: true,
      }),
    ).toBeUndefined()
  })

  it('votes guilty for a leaf or a start state the provider never served', () => {
    expect(
      verdictAtDeadline(log, seat, {
        assets,
        served: { unserved: 'provider answered not-ready' },
        trouble: undefined,
        heardEveryAd: true,
      }),
    ).toMatchObject({ choice: CourtVote.guilty, reason: expect.stringMatching(/leaf 3 not served/) })
    const trouble = { fault: 'unserved' as const, message: 'no peer served checkpoint 2' }
    expect(
      verdictAtDeadline(log, seat, { assets, served: proven, trouble, heardEveryAd: true }),
    ).toMatchObject({
      choice: CourtVote.guilty,
      reason: expect.stringMatching(/not served/),
    })
  })
})
