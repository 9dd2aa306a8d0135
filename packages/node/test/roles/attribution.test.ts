/**
 * The pure parts of attribution in the job lifecycle: the spec field and its typed errors,
 * where the attribution leaf sits, which leaves a replay of it needs, the datanet manifest's
 * binding to the spec and the dataset file, and the self-consistency check of a served result.
 * (The whole path through real roles is test/e2e/attribution.test.ts.)
 */
import { attributionWeightsTree, contentHashOf, type DatanetManifest } from '@ocn/protocol'
import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import { type AttributionResult, attributionResultHash } from '../../src/attribution/result.js'
import { ExecutorError } from '../../src/executor/errors.js'
import { parseJobSpec, type TrainingJobSpec } from '../../src/executor/spec.js'
import {
  attributionLeafIndex,
  attributionRequestFor,
  attributionResultProblem,
  parseJobDatanet,
} from '../../src/roles/attribution.js'
import { RoleError } from '../../src/roles/errors.js'
import { leavesNeeded } from '../../src/roles/shared.js'
import { classifierSpec, f32, profile } from '../executor/helpers.js'

const MANIFEST_HASH = `0x${'1f'.repeat(32)}` as Hex
const base = () =>
  JSON.parse(
    JSON.stringify(
      classifierSpec({
        batchSize: 16,
        epochs: 3,
        checkpointInterval: 8,
        profile: profile(16, { weightsSupply: 'feeds' }),
      }),
    ),
  )
const attribution = {
  method: 'tracin-cp-v1',
  manifest: MANIFEST_HASH,
  validation: { features: 'x_val', targets: 'y_val' },
}
const specWith = (a: unknown) => ({ ...base(), attribution: a })
const specError = (v: unknown) => {
  try {
    parseJobSpec(v)
  } catch (err) {
    expect(err).toBeInstanceOf(ExecutorError)
    expect((err as ExecutorError).code).toBe('EXECUTOR_SPEC_INVALID')
    return (err as ExecutorError).shortMessage
  }
  throw new Error('the spec was accepted')
}

describe('spec.attribution', () => {
  it('parses and round-trips through JSON (it is hashed into the specHash)', () => {
    const spec = parseJobSpec(specWith(attribution)) as TrainingJobSpec
    expect(spec.attribution).toEqual(attribution)
    expect(parseJobSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec)
    expect((parseJobSpec(base()) as TrainingJobSpec).attribution).toBeUndefined()
  })

  it('names the offending field', () => {
    expect(specError(specWith('tracin'))).toMatch(/spec\.attribution must be an object/)
    expect(specError(specWith({ ...attribution, method: 'shapley' }))).toMatch(/spec\.attribution\.method/)
    expect(specError(specWith({ ...attribution, extra: 1 }))).toMatch(
      /spec\.attribution\.extra is not a known/,
    )
    expect(specError(specWith({ ...attribution, manifest: MANIFEST_HASH.toUpperCase() }))).toMatch(
      /spec\.attribution\.manifest/,
    )
    expect(specError(specWith({ ...attribution, manifest: undefined }))).toMatch(
      /spec\.attribution\.manifest/,
    )
    expect(specError(specWith({ ...attribution, validation: { features: 'x_val' } }))).toMatch(
      /spec\.attribution\.validation\.targets/,
    )
    expect(specError(specWith({ ...attribution, validation: { features: 'x', targets: 'y_val' } }))).toMatch(
      /training tensor "x"/,
    )
    expect(specError(specWith({ ...attribution, validation: { features: 'v', targets: 'v' } }))).toMatch(
      /names one tensor twice/,
    )
    // an inference spec has no attribution
    expect(specError({ kind: 'inference', profile: base().profile, attribution })).toMatch(
      /not a known field/,
    )
  })
})

const rows = (n: number) => ({
  x: f32(
    [n, 2],
    Array.from({ length: 2 * n }, (_v, i) => i / 10),
  ),
  y: { dtype: 'int64' as const, dims: [n], data: new Uint8Array(8 * n) },
})

describe('the attribution leaf', () => {
  it('sits after the last checkpoint, wherever the plan puts that', () => {
    const spec = parseJobSpec(specWith(attribution)) as TrainingJobSpec
    // 120 rows / 16 = 8 steps x 3 epochs = 24; checkpoints 0, 8, 16, 24
    expect(attributionLeafIndex(spec, rows(120))).toBe(4)
    // 130 rows: 9 steps x 3 = 27; checkpoints 0, 8, 16, 24, 27
    expect(attributionLeafIndex(spec, rows(130))).toBe(5)
    expect(attributionLeafIndex(parseJobSpec(base()) as TrainingJobSpec, rows(120))).toBeUndefined()
    expect(() => attributionLeafIndex(spec, {})).toThrow(RoleError)
  })

  it('a replay of it asks for every checkpoint; other samples only their segments', () => {
    expect(leavesNeeded('training', [4], 4)).toEqual([0, 1, 2, 3, 4])
    expect(leavesNeeded('training', [2], 4)).toEqual([1, 2])
    expect(leavesNeeded('training', [0, 3])).toEqual([0, 2, 3])
  })
})

describe('the datanet manifest of a job', () => {
  const manifest: DatanetManifest = {
    version: 1,
    datasetId: `0x${'ab'.repeat(32)}`,
    rows: 120,
    contributors: [
      {
        address: '0x0000000000000000000000000000000000000a11',
        dataHash: `0x${'cd'.repeat(32)}`,
        ranges: [{ start: 0, end: 120 }],
      },
    ],
  }
  const bytes = new TextEncoder().encode(JSON.stringify(manifest))
  const spec = parseJobSpec(specWith({ ...attribution, manifest: contentHashOf(bytes) })) as TrainingJobSpec
  const code = (f: () => unknown) => {
    try {
      f()
    } catch (err) {
      expect(err).toBeInstanceOf(RoleError)
      return (err as RoleError).code
    }
    return 'accepted'
  }

  it('must be the file the spec names and describe the job dataset file', () => {
    expect(parseJobDatanet(bytes, spec, manifest.datasetId).rows).toBe(120)
    expect(code(() => parseJobDatanet(bytes, spec, `0x${'ee'.repeat(32)}`))).toBe('ROLE_INPUT_MISMATCH')
    const other = new TextEncoder().encode(JSON.stringify({ ...manifest, rows: 119 }))
    expect(code(() => parseJobDatanet(other, spec, manifest.datasetId))).toBe('ROLE_INPUT_MISMATCH')
    const garbage = new TextEncoder().encode('{"version": 1')
    const named = parseJobSpec(
      specWith({ ...attribution, manifest: contentHashOf(garbage) }),
    ) as TrainingJobSpec
    expect(code(() => parseJobDatanet(garbage, named, manifest.datasetId))).toBe('ROLE_INVALID_PARAMS')
  })

  it('the request renames the validation tensors to the training layout and refuses missing ones', () => {
    const inputs = { ...rows(120), x_val: f32([6, 2], new Array(12).fill(1)), y_val: rows(6).y }
    const request = attributionRequestFor({
      spec,
      manifest,
      inputs,
      model: new Uint8Array(),
      checkpoints: [],
      checkpointHashes: [],
    })
    expect(Object.keys(request.dataset).sort()).toEqual(['x', 'y'])
    expect(request.validation.x).toBe(inputs.x_val)
    expect(request.validation.y).toBe(inputs.y_val)
    expect(request.baseModel).toBeUndefined()
    const { y_val: _y, ...lacking } = inputs
    expect(
      code(() =>
        attributionRequestFor({
          spec,
          manifest,
          inputs: lacking,
          model: new Uint8Array(),
          checkpoints: [],
          checkpointHashes: [],
        }),
      ),
    ).toBe('ROLE_INPUT_MISMATCH')
  })
})

describe('a served attribution result', () => {
  const weights = [
    { address: '0x0000000000000000000000000000000000000a11' as Hex, weight: 9000 },
    { address: '0x0000000000000000000000000000000000000b22' as Hex, weight: 0 },
    { address: '0x0000000000000000000000000000000000000c33' as Hex, weight: 1000 },
  ]
  const body = {
    method: 'tracin-cp-v1' as const,
    manifestHash: `0x${'01'.repeat(32)}` as Hex,
    validationHash: `0x${'02'.repeat(32)}` as Hex,
    checkpointHashes: [`0x${'03'.repeat(32)}` as Hex],
    scores: [2.5, -1.25, 0.3],
    weights,
    weightsRoot: attributionWeightsTree(weights).root,
  }
  const result: AttributionResult = { ...body, resultHash: attributionResultHash(body) }

  it('is checked for consistency: sum, root, hash', () => {
    expect(attributionResultProblem(result)).toBeUndefined()
    expect(attributionResultProblem(null)).toBe('not an object')
    const moved = weights.map((w, i) => ({ ...w, weight: i === 0 ? 8999 : w.weight }))
    expect(attributionResultProblem({ ...result, weights: moved })).toMatch(/sum/)
    const swapped = [weights[1]!, weights[0]!, weights[2]!].map((w, i) => ({
      ...w,
      weight: weights[i]!.weight,
    }))
    expect(attributionResultProblem({ ...result, weights: swapped })).toMatch(/weightsRoot/)
    expect(attributionResultProblem({ ...result, scores: [2.5, -1.25, 0.30000000000000004] })).toMatch(
      /resultHash/,
    )
  })
})
