/**
 * Input axes: which axis of each input micro-batches cut along, or broadcast; and refusals
 * that name the first real blocker and the flag that fixes it. Pure checks, no runtime.
 */
import { describe, expect, it } from 'vitest'
import {
  concatAxis,
  ExecutorError,
  type HostTensor,
  type ModelSignature,
  type NamedTensors,
  parseJobSpec,
  sliceAxis,
  validateInputAxes,
} from '../../src/executor/index.js'
import { profile } from './helpers.js'

/** A streaming VAD's signature: audio [batch, 32], state [2, batch, 8] (batch on axis 1), scalar sr. */
const vad: ModelSignature = {
  inputs: [
    { name: 'input', type: 'float32', shape: ['batch', 32] },
    { name: 'state', type: 'float32', shape: [2, 'batch', 8] },
    { name: 'sr', type: 'int64', shape: [] },
  ],
  outputs: [
    { name: 'output', type: 'float32', shape: ['batch', 1] },
    { name: 'stateN', type: 'float32', shape: [2, 'batch', 8] },
  ],
}

const zeros = (dtype: HostTensor['dtype'], dims: number[]): HostTensor => ({
  dtype,
  dims,
  data: new Uint8Array(dims.reduce((a, b) => a * b, 1) * (dtype === 'int64' ? 8 : 4)),
})

const vadInputs = (batch: number, stateBatch = batch): NamedTensors => ({
  input: zeros('float32', [batch, 32]),
  state: zeros('float32', [2, stateBatch, 8]),
  sr: zeros('int64', []),
})

function refusal(f: () => unknown): ExecutorError {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(ExecutorError)
    return err as ExecutorError
  }
  throw new Error('expected a refusal')
}

const text = (e: ExecutorError) => `${e.message} ${e.details ?? ''}`

describe('input axes', () => {
  it('infers a VAD: audio on axis 0, state on axis 1 (the shared dynamic name), the scalar broadcast', () => {
    const { samples, axes } = validateInputAxes(vad, vadInputs(6), undefined, 4, 1e6)
    expect(samples).toBe(6)
    expect(axes).toEqual({ input: 0, state: 1, sr: 'broadcast' })
  })

  it('a scalar declared with a batch axis is refused as the blocker, naming --input-axis sr=broadcast', () => {
    const e = refusal(() => validateInputAxes(vad, vadInputs(6), { sr: 0 }, 4, 1e6))
    expect(e.code).toBe('EXECUTOR_INPUT_MISMATCH')
    expect(e.message).toContain('input sr is a scalar')
    expect(e.message).toContain('--input-axis sr=broadcast')
    expect(e.message).toContain('spec.inputAxes.sr')
  })

  it('a wrong batch axis shows as a size mismatch on that input, naming its axis and --input-axis', () => {
    // state declared on axis 0: its fixed axis 1 is not checked, but the sample counts disagree
    const e = refusal(() => validateInputAxes(vad, vadInputs(6), { state: 0 }, 4, 1e6))
    expect(e.message).toContain('inputs disagree on the sample count')
    expect(e.message).toContain('state has 2 on its batch axis 0')
    expect(text(e)).toContain('--input-axis state=<axis|broadcast>')
  })

  it('inputs that disagree on the sample count name both inputs and the flag', () => {
    const e = refusal(() => validateInputAxes(vad, vadInputs(6, 5), undefined, 4, 1e6))
    expect(e.message).toContain('input has 6 on its batch axis 0, state has 5 on its batch axis 1')
    expect(text(e)).toContain('--input-axis state=')
  })

  it('a fixed size on another axis names the axis, and the batch axis it assumed', () => {
    const inputs = { ...vadInputs(6), state: zeros('float32', [2, 6, 7]) }
    const e = refusal(() => validateInputAxes(vad, inputs, undefined, 4, 1e6))
    expect(e.shortMessage).toBe('input state has size 7 on axis 2; the model takes 8')
    expect(text(e)).toContain('its batch axis is 1')
  })

  it('a fixed batch axis names --micro-batch and spec.profile.microBatchSize', () => {
    const fixed: ModelSignature = { inputs: [{ name: 'x', type: 'float32', shape: [2, 3] }], outputs: [] }
    const e = refusal(() => validateInputAxes(fixed, { x: zeros('float32', [4, 3]) }, undefined, 4, 1e6))
    expect(e.message).toContain('fixed batch axis 0 of size 2: pass --micro-batch 2')
    expect(e.message).toContain('spec.profile.microBatchSize')
    expect(text(e)).toContain('--input-axis x=')
  })

  it('several dynamic axes with no shared name cannot be told apart: the refusal names --input-axis', () => {
    const sig: ModelSignature = {
      inputs: [
        { name: 'a', type: 'float32', shape: [4, 'n', 'm'] },
        { name: 'b', type: 'float32', shape: ['k'] },
      ],
      outputs: [],
    }
    const inputs = { a: zeros('float32', [4, 2, 3]), b: zeros('float32', [2]) }
    const e = refusal(() => validateInputAxes(sig, inputs, undefined, 1, 1e6))
    expect(e.message).toContain('input a has several dynamic axes')
    expect(e.message).toContain('--input-axis a=<axis|broadcast>')
    expect(validateInputAxes(sig, inputs, { a: 1 }, 1, 1e6)).toEqual({ samples: 2, axes: { a: 1, b: 0 } })
  })

  it('a declared axis beyond the rank, or for an input the model lacks, names the flag', () => {
    expect(refusal(() => validateInputAxes(vad, vadInputs(6), { input: 2 }, 4, 1e6)).message).toContain(
      'input input has rank 2, so it has no axis 2: declare it with --input-axis input=',
    )
    const e = refusal(() => validateInputAxes(vad, vadInputs(6), { audio: 0 }, 4, 1e6))
    expect(e.message).toContain('spec.inputAxes names audio, which is not an input of the model')
    expect(text(e)).toContain('--input-axis')
  })

  it('the first real blocker comes first: a missing input, then a dtype, before any axis trouble', () => {
    const { sr: _sr, ...noRate } = vadInputs(6, 5)
    expect(refusal(() => validateInputAxes(vad, noRate, { state: 0 }, 4, 1e6)).shortMessage).toBe(
      "the model's input sr is missing",
    )
    const floatRate = { ...vadInputs(6, 5), sr: zeros('float32', []) }
    expect(refusal(() => validateInputAxes(vad, floatRate, undefined, 4, 1e6)).shortMessage).toBe(
      'input sr is float32; the model takes int64',
    )
  })

  it('broadcast inputs are shared by every micro-batch; all broadcast is one sample', () => {
    const sig: ModelSignature = { inputs: [{ name: 's', type: 'int64', shape: [] }], outputs: [] }
    expect(validateInputAxes(sig, { s: zeros('int64', []) }, undefined, 1, 1e6).samples).toBe(1)
  })

  it('spec.inputAxes is parsed: axis numbers or "broadcast"', () => {
    const spec = parseJobSpec({
      kind: 'inference',
      profile: profile(2),
      inputAxes: { state: 1, sr: 'broadcast' },
    })
    expect(spec.kind === 'inference' && spec.inputAxes).toEqual({ state: 1, sr: 'broadcast' })
    expect(() =>
      parseJobSpec({ kind: 'inference', profile: profile(2), inputAxes: { sr: 'shared' } }),
    ).toThrow(/spec.inputAxes.sr must be an axis number/)
  })

  it('slicing along an axis and joining the slices gives the tensor back', () => {
    const t: HostTensor = {
      dtype: 'uint8',
      dims: [2, 5, 3],
      data: Uint8Array.from({ length: 30 }, (_, i) => i),
    }
    const parts = [sliceAxis(t, 1, 0, 2), sliceAxis(t, 1, 2, 4), sliceAxis(t, 1, 4, 5)]
    expect(parts[1]!.dims).toEqual([2, 2, 3])
    expect([...parts[1]!.data]).toEqual([6, 7, 8, 9, 10, 11, 21, 22, 23, 24, 25, 26])
    const back = concatAxis('t', parts, 1)
    expect(back.dims).toEqual([2, 5, 3])
    expect([...back.data]).toEqual([...t.data])
  })
})
