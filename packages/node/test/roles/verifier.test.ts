/**
 * The verifier's arithmetic and judgement, without a network: how many leaves the terms fix,
 * how many it checks, and what it challenges for each thing a provider can do wrong.
 */
import type { ReplayExecutor, SpotCheckMismatch } from '@ocn/prover'
import { type Hex, keccak256, toHex } from 'viem'
import { describe, expect, it } from 'vitest'
import { defaultNodeConfig } from '../../src/config/options.js'
import { ExecutorError } from '../../src/executor/errors.js'
import { cpuReplayProfile, type JobSpec, type TrainingJobSpec } from '../../src/executor/spec.js'
import type { NamedTensors } from '../../src/executor/tensor.js'
import { P2PError, P2PErrorCode } from '../../src/p2p/errors.js'
import { RoleError } from '../../src/roles/errors.js'
import type { JobAssets } from '../../src/roles/shared.js'
import { evidenceFor, type Findings, UNREPLAYABLE } from '../../src/roles/verifier/evidence.js'
import { samplesFor, termsLeafCount } from '../../src/roles/verifier/sample.js'

const replayedHash = (i: number) => keccak256(toHex(`replayed ${i}`))
const replay: ReplayExecutor = {
  runMicroBatch: async (i) => replayedHash(i),
  runTrainingSegment: async (i) => {
    if (i > 0) throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `checkpoint ${i - 1} not served`)
    return replayedHash(i)
  },
}

function findings(mismatches: SpotCheckMismatch[], over: Partial<Findings> = {}): Findings {
  return {
    kind: 'inference',
    mismatches,
    termsLeafCount: 16,
    committedLeafCount: 16,
    replay,
    lastChance: true,
    ...over,
  }
}

/** A training replay whose segments all fail with `error`. */
const failingWith = (error: Error): ReplayExecutor => ({
  ...replay,
  runTrainingSegment: async () => {
    throw error
  },
})

const claimed = keccak256(toHex('claimed'))

function assets(spec: JobSpec, inputs: NamedTensors = {}): JobAssets {
  return { spec, specBytes: new Uint8Array(), model: new Uint8Array(), inputs }
}

describe('termsLeafCount', () => {
  const inference = assets({ kind: 'inference', profile: cpuReplayProfile('1.24.0', 4) })

  it('inference: one leaf per micro-batch of the award, ceil(sampleCount / microBatchSize)', () => {
    expect(termsLeafCount({ sampleCount: 64, microBatchSize: 4 }, inference)).toBe(16)
    expect(termsLeafCount({ sampleCount: 65, microBatchSize: 4 }, inference)).toBe(17)
    expect(termsLeafCount({ sampleCount: 1, microBatchSize: 8 }, inference)).toBe(1)
    expect(() => termsLeafCount({ sampleCount: 64, microBatchSize: 0 }, inference)).toThrow(
      expect.objectContaining({ code: 'ROLE_INVALID_PARAMS' }),
    )
  })

  it("training: one leaf per checkpoint of the spec's schedule", () => {
    const spec: TrainingJobSpec = {
      kind: 'training',
      profile: cpuReplayProfile('1.24.0', 16, 'feeds'),
      model: { architecture: { inputFeatures: 2, hiddenLayers: [8], outputs: 3, activation: 'tanh' } },
      loss: 'softmax-cross-entropy',
      optimizer: { type: 'adam', learningRate: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
      batchSize: 16,
      epochs: 2,
      seed: 's',
      checkpointInterval: 2,
      data: { features: 'x', targets: 'y' },
    }
    const x = { dtype: 'float32' as const, dims: [64, 2], data: new Uint8Array(64 * 2 * 4) }
    // 64 rows / 16 = 4 steps an epoch, 2 epochs: checkpoints at steps 0, 2, 4, 6, 8
    expect(termsLeafCount({ sampleCount: 0, microBatchSize: 16 }, assets(spec, { x }))).toBe(5)
  })
})

describe('samplesFor', () => {
  const config = { ...defaultNodeConfig({}).verifier, targetDetectionProbability: 0.99, maxSamplesPerJob: 64 }

  it('checks enough leaves for one faked leaf at the target, within the cap', () => {
    // one faked leaf of n: P(caught) = k / n, so k = ceil(0.99 n)
    expect(samplesFor(config, 16)).toBe(16)
    expect(samplesFor(config, 1000)).toBe(64)
    expect(samplesFor({ ...config, targetDetectionProbability: 0.5 }, 16)).toBe(8)
    expect(samplesFor({ ...config, maxSamplesPerJob: 6 }, 16)).toBe(6)
  })
})

describe('evidenceFor', () => {
  it('passes a provider with nothing found and the terms count', async () => {
    expect(await evidenceFor(findings([]))).toBeUndefined()
  })

  it('challenges a different result first, naming the hash it replayed', async () => {
    const evidence = await evidenceFor(
      findings([
        { index: 2, reason: 'not-served', error: 'leaf 2 not served' },
        { index: 5, reason: 'different-result', claimed, replayed: replayedHash(5) },
      ]),
    )
    expect(evidence).toEqual({ index: 5, replayed: replayedHash(5) })
  })

  it('challenges a leaf not served or not proven, replaying it itself', async () => {
    // not served at all: marked, so that the provider is asked again before the reveal
    expect(await evidenceFor(findings([{ index: 3, reason: 'not-served', error: 'gone' }]))).toEqual({
      index: 3,
      replayed: replayedHash(3),
      unserved: true,
    })
    expect(await evidenceFor(findings([{ index: 7, reason: 'bad-proof', claimed }]))).toEqual({
      index: 7,
      replayed: replayedHash(7),
    })
  })

  it('training: a segment that cannot start from the provider checkpoint counts against it', async () => {
    const training = { kind: 'training' as const, termsLeafCount: 5, committedLeafCount: 5 }
    expect(
      await evidenceFor(
        findings([{ index: 3, reason: 'replay-failed', claimed, error: 'withheld' }], training),
      ),
    ).toEqual({ index: 3, replayed: UNREPLAYABLE })
    // a withheld leaf 0 is replayed from the seed alone
    expect(
      await evidenceFor(findings([{ index: 0, reason: 'not-served', error: 'gone' }], training)),
    ).toEqual({
      index: 0,
      replayed: replayedHash(0),
      unserved: true,
    })
  })

  it("training: the verifier's own replay failing is never a challenge; a wrong checkpoint always is", async () => {
    const training = { kind: 'training' as const, termsLeafCount: 5, committedLeafCount: 5 }
    const failed = [{ index: 3, reason: 'replay-failed' as const, claimed, error: 'x' }]
    // ONNX Runtime erroring, a timeout, a crashed worker: this node's trouble, at any time
    for (const own of [
      new ExecutorError('EXECUTOR_RUN_FAILED', 'onnxruntime: bad alloc'),
      new ExecutorError('EXECUTOR_TIMEOUT', 'segment took too long'),
      new Error('model file unreadable'),
    ]) {
      await expect(
        evidenceFor(findings(failed, { ...training, replay: failingWith(own) })),
      ).rejects.toMatchObject({ code: 'ROLE_REPLAY_FAILED' })
    }
    // a checkpoint not served: asked again until the window's end comes within the grace
    const unserved = new P2PError(P2PErrorCode.ALL_PEERS_FAILED, 'could not fetch the artifact from any peer')
    await expect(
      evidenceFor(findings(failed, { ...training, replay: failingWith(unserved), lastChance: false })),
    ).rejects.toMatchObject({ code: 'ROLE_REPLAY_FAILED' })
    expect(
      await evidenceFor(findings(failed, { ...training, replay: failingWith(unserved), lastChance: true })),
    ).toEqual({ index: 3, replayed: UNREPLAYABLE })
    // a checkpoint that is not the committed one, or no checkpoint at all: at once
    for (const wrong of [
      new ExecutorError('EXECUTOR_INPUT_MISMATCH', 'the start checkpoint does not match its committed hash'),
      new ExecutorError('EXECUTOR_FORMAT_INVALID', 'invalid safetensors file'),
    ]) {
      expect(
        await evidenceFor(findings(failed, { ...training, replay: failingWith(wrong), lastChance: false })),
      ).toEqual({ index: 3, replayed: UNREPLAYABLE })
    }
  })

  it('training: a start state busy at first and then served is no evidence when the leaf holds', async () => {
    const training = { kind: 'training' as const, termsLeafCount: 5, committedLeafCount: 5 }
    // the provider's upload slots were full during the spot check (REMOTE_REFUSED busy)
    const busy = [{ index: 3, reason: 'replay-failed' as const, claimed: replayedHash(3), error: 'busy' }]
    const served: ReplayExecutor = { ...replay, runTrainingSegment: async (i) => replayedHash(i) }
    expect(await evidenceFor(findings(busy, { ...training, replay: served }))).toBeUndefined()
    // served on the re-run, but to another hash: the leaf is wrong
    const wrong = [{ index: 3, reason: 'replay-failed' as const, claimed, error: 'busy' }]
    expect(await evidenceFor(findings(wrong, { ...training, replay: served }))).toEqual({
      index: 3,
      replayed: replayedHash(3),
    })
  })

  it("inference: its own replay failing is the verifier's error, typed, not a challenge", async () => {
    await expect(
      evidenceFor(findings([{ index: 1, reason: 'replay-failed', claimed, error: 'worker crashed' }])),
    ).rejects.toMatchObject({ name: 'RoleError', code: 'ROLE_REPLAY_FAILED' })
    const broken: ReplayExecutor = {
      ...replay,
      runMicroBatch: async () => {
        throw new Error('worker crashed')
      },
    }
    await expect(
      evidenceFor(findings([{ index: 1, reason: 'not-served', error: 'gone' }], { replay: broken })),
    ).rejects.toMatchObject({ code: 'ROLE_REPLAY_FAILED' })
  })

  it('challenges a committed count other than the terms, on a leaf the chain accepts', async () => {
    // 16 leaves of work committed as 4,096: the first leaf past the terms
    expect(await evidenceFor(findings([], { committedLeafCount: 4096 }))).toEqual({
      index: 16,
      replayed: UNREPLAYABLE,
    })
    // fewer leaves than the terms: sampled leaves past the commitment cannot be challenged,
    // the last committed one is
    const short = await evidenceFor(
      findings([{ index: 12, reason: 'not-served', error: 'bad-request' }], { committedLeafCount: 10 }),
    )
    expect(short).toEqual({ index: 9, replayed: replayedHash(9) })
  })

  it('never challenges a leaf index the commitment does not have', async () => {
    const mismatches: SpotCheckMismatch[] = [
      { index: 20, reason: 'different-result', claimed, replayed: replayedHash(20) as Hex },
    ]
    const evidence = await evidenceFor(findings(mismatches, { termsLeafCount: 32, committedLeafCount: 16 }))
    expect(evidence).toEqual({ index: 15, replayed: replayedHash(15) })
  })
})
