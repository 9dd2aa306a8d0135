/**
 * Method `knn-shapley-v1` in process (unit tier: no worker process, no chain): the closed
 * form against brute-force Shapley values, determinism, the label-noise contributor ranking
 * last, and the verifier's replay of the attribution leaf (the request a verifier builds,
 * recomputed and compared by result hash). Checkpoints are synthetic states at the plan's
 * steps: the method reads them only to check and pin their hashes. The path through the
 * forked attribution process is in attribution.test.ts.
 */
import { attributionWeightsTree } from '@ocn/protocol'
import { describe, expect, it } from 'vitest'
import { computeAttributionResult } from '../../src/attribution/compute.js'
import { AttributionError } from '../../src/attribution/errors.js'
import { knnShapleyRowValues, type LabelledRows } from '../../src/attribution/knn-shapley.js'
import { attributionResultHash } from '../../src/attribution/result.js'
import { encodeSafetensors } from '../../src/executor/formats/safetensors.js'
import { checkpointHash } from '../../src/executor/hashing.js'
import { parseJobSpec, type TrainingJobSpec } from '../../src/executor/spec.js'
import { initialMlp, initialState, makePlan, withStep } from '../../src/executor/training/plan.js'
import { attributionRequestFor, attributionResultProblem } from '../../src/roles/attribution.js'
import { classifierSpec, f32 } from '../executor/helpers.js'
import { inputs, manifest, PER, training } from './datanet-fixture.js'

const spec = parseJobSpec({
  ...JSON.parse(JSON.stringify(classifierSpec({ epochs: 2, checkpointInterval: 4 }))),
  attribution: {
    method: 'knn-shapley-v1',
    manifest: `0x${'1f'.repeat(32)}`,
    validation: { features: 'x_val', targets: 'y_val' },
  },
}) as TrainingJobSpec

/** States at the plan's checkpoint steps, as safetensors files, with their hashes. */
function syntheticCheckpoints() {
  const mlp = initialMlp(spec, undefined)
  const plan = makePlan(spec, mlp, { features: training.x, targets: training.y })
  const state = initialState(spec, mlp)
  const states = plan.checkpointSteps.map((step) => withStep(state, step))
  return { checkpoints: states.map((s) => encodeSafetensors(s)), hashes: states.map(checkpointHash) }
}

const { checkpoints, hashes } = syntheticCheckpoints()

/** Exact Shapley values by enumerating subsets (only for tiny sets). */
function bruteForce(train: { x: number[][]; y: number[] }, v: { x: number[]; y: number }, k: number) {
  const n = train.y.length
  const dist = train.x.map((p) => (p[0]! - v.x[0]!) ** 2 + (p[1]! - v.x[1]!) ** 2)
  const utility = (set: number[]) => {
    if (set.length === 0) return 0
    const near = [...set].sort((a, b) => dist[a]! - dist[b]! || a - b).slice(0, k)
    return near.filter((i) => train.y[i] === v.y).length / k
  }
  const fact = (m: number): number => (m <= 1 ? 1 : m * fact(m - 1))
  return train.y.map((_y, i) => {
    let phi = 0
    for (let mask = 0; mask < 1 << n; mask++) {
      if (mask & (1 << i)) continue
      const set = train.y.map((_v, j) => j).filter((j) => mask & (1 << j))
      const weight = (fact(set.length) * fact(n - set.length - 1)) / fact(n)
      phi += weight * (utility([...set, i]) - utility(set))
    }
    return phi
  })
}

/** The request a verifier builds for the attribution leaf (roles/shared.ts replay). */
const requestFromLeaves = () =>
  attributionRequestFor({
    spec,
    manifest,
    inputs,
    model: new Uint8Array(),
    checkpoints,
    checkpointHashes: hashes,
  })

describe('knn-shapley-v1', () => {
  it('matches the Shapley definition computed by enumerating every subset', () => {
    const pts = [
      [0, 0],
      [1, 0],
      [0, 2],
      [3, 1],
      [-1, -1],
      [2, 2],
      [0.5, 0.5],
    ]
    const labels = [0, 1, 0, 1, 0, 1, 1]
    const v = { x: [0.4, 0.1], y: 0 }
    const rows: LabelledRows = {
      features: f32([pts.length, 2], pts.flat()),
      targets: {
        dtype: 'int64',
        dims: [labels.length],
        data: new Uint8Array(BigInt64Array.from(labels.map(BigInt)).buffer),
      },
    }
    const val: LabelledRows = {
      features: f32([1, 2], v.x),
      targets: { dtype: 'int64', dims: [1], data: new Uint8Array(BigInt64Array.of(0n).buffer) },
    }
    for (const k of [1, 3]) {
      const closed = knnShapleyRowValues(rows, val, k)
      // the closed form reads float32 features: enumerate over the same values
      const exact = bruteForce(
        { x: pts.map((p) => p.map(Math.fround)), y: labels },
        { x: v.x.map(Math.fround), y: 0 },
        k,
      )
      for (let i = 0; i < pts.length; i++) expect(closed[i]!).toBeCloseTo(exact[i]!, 12)
    }
  })

  it('is deterministic to the bit, ranks the label-noise contributor last, and pins the checkpoints', async () => {
    const first = await computeAttributionResult(requestFromLeaves())
    const again = await computeAttributionResult(requestFromLeaves())
    expect(again).toEqual(first)
    expect(again.scores.map((s) => new Float64Array([s])[0])).toEqual(first.scores)
    expect(first.method).toBe('knn-shapley-v1')
    expect(first.checkpointHashes).toEqual(hashes)
    const [clean, noise, clean2] = first.scores as [number, number, number]
    expect(noise).toBeLessThan(Math.min(clean, clean2))
    expect(first.weights[1]!.weight).toBeLessThan(
      Math.min(first.weights[0]!.weight, first.weights[2]!.weight),
    )
  })

  it('the verifier replay accepts the honest result and rejects a forged one', async () => {
    const honest = await computeAttributionResult(requestFromLeaves())
    // what a verifier does with the attribution leaf: recompute from the committed
    // checkpoints and compare result hashes
    const replayAccepts = async (claimed: typeof honest) =>
      attributionResultProblem(claimed) === undefined &&
      (await computeAttributionResult(requestFromLeaves())).resultHash === claimed.resultHash
    expect(await replayAccepts(honest)).toBe(true)

    // self-consistent forgery: the noise contributor's weight moved to itself, root and hash redone
    const weights = honest.weights.map((w, i) => ({ ...w, weight: i === 1 ? 10_000 : 0 }))
    const { resultHash: _drop, ...body } = { ...honest, weights }
    const forgedBody = { ...body, weightsRoot: attributionWeightsTree(weights).root }
    const forged = { ...forgedBody, resultHash: attributionResultHash(forgedBody) }
    expect(attributionResultProblem(forged)).toBeUndefined()
    expect(await replayAccepts(forged)).toBe(false)

    // a result claimed under the other method name does not replay as this one
    const renamed = { ...honest, method: 'tracin-cp-v1' as const }
    const { resultHash: _h, ...renamedBody } = renamed
    expect(await replayAccepts({ ...renamed, resultHash: attributionResultHash(renamedBody) })).toBe(false)

    // a checkpoint that is not the committed one is refused
    const wrong = [...hashes]
    wrong[1] = wrong[0]!
    const err = await computeAttributionResult({ ...requestFromLeaves(), checkpointHashes: wrong }).catch(
      (e) => e,
    )
    expect((err as AttributionError).code).toBe('ATTRIBUTION_CHECKPOINT_MISMATCH')
  })

  it('refuses regression targets, naming the fix, already in the spec', () => {
    const regression = { ...JSON.parse(JSON.stringify(spec)), loss: 'mse' }
    expect(() => parseJobSpec(regression)).toThrow(/knn-shapley-v1 needs class labels/)
    expect(() =>
      parseJobSpec({ ...regression, attribution: { ...regression.attribution, method: 'tracin-cp-v1' } }),
    ).not.toThrow()
    const reg: LabelledRows = { features: training.x, targets: f32([3 * PER, 1], new Array(3 * PER).fill(0)) }
    expect(() => knnShapleyRowValues(reg, reg)).toThrow(AttributionError)
    expect(() => knnShapleyRowValues(reg, reg)).toThrow(/int64 class labels/)
  })
})
