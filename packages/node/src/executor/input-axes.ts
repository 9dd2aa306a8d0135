/**
 * Inputs as models really take them: each input either has a batch axis (any axis, the one
 * micro-batches cut along) or is broadcast (given whole to every micro-batch; scalars are).
 * A job spec may declare them (`spec.inputAxes`, the CLI's `--input-axis name=axis|broadcast`);
 * what it leaves out is inferred from the model's signature: a scalar is broadcast, and a
 * dynamic axis whose name every dynamic input shares (`batch` in most exports) is the batch
 * axis. The checks refuse with the first real blocker and the flag or field that fixes it.
 */
import { decodeOnnxModel, type OnnxValueInfo } from '@ocn/prover/onnx'
import { ExecutorError } from './errors.js'
import type { InputAxes, InputAxis } from './input-axes-spec.js'

export type { InputAxes, InputAxis } from './input-axes-spec.js'

import { checkTensor, dtypeSize, elementCount, type HostTensor, type NamedTensors } from './tensor.js'
import type { ModelSignature, ValueSignature } from './worker-protocol.js'

/** The CLI flag and spec field that declare an input's axis: what refusals name. */
export const axisFix = (name: string, what = '<axis|broadcast>') =>
  `declare it with --input-axis ${name}=${what} (spec.inputAxes.${name})`

const mismatch = (msg: string, details?: string) =>
  new ExecutorError('EXECUTOR_INPUT_MISMATCH', msg, details === undefined ? {} : { details })

/**
 * The dynamic axis name shared by every input (or output) that has dynamic axes: the batch
 * axis of an export. Several shared names prefer one that says "batch", then axis 0 of the
 * first value; none gives undefined.
 */
export function sharedBatchName(values: readonly ValueSignature[]): string | undefined {
  const dynamic = values
    .filter((v) => v.shape !== undefined && v.shape.length > 0)
    .map((v) => v.shape!.filter((d): d is string => typeof d === 'string'))
    .filter((names) => names.length > 0)
  if (dynamic.length === 0) return undefined
  const shared = dynamic[0]!.filter((n) => dynamic.every((names) => names.includes(n)))
  if (shared.length <= 1) return shared[0]
  return shared.find((n) => /batch/i.test(n)) ?? shared[0]
}

/** One value's batch axis as inferred from its signature; undefined when it cannot be told. */
function inferredAxis(v: ValueSignature, batchName: string | undefined): InputAxis | undefined {
  const shape = v.shape
  if (shape === undefined) return 0
  if (shape.length === 0) return 'broadcast'
  if (batchName !== undefined && shape.includes(batchName)) return shape.indexOf(batchName)
  const dynamic = shape.flatMap((d, i) => (typeof d === 'string' ? [i] : []))
  // a fully fixed shape keeps the old reading: the first axis is the batch axis
  if (dynamic.length === 0 || dynamic[0] === 0 || dynamic.length === 1) return dynamic[0] ?? 0
  return undefined
}

/** Each model input's axis: declared ones as given, the rest inferred; refuses what cannot be told. */
export function resolveInputAxes(sig: ModelSignature, declared: InputAxes = {}): InputAxes {
  const names = new Set(sig.inputs.map((i) => i.name))
  for (const name of Object.keys(declared)) {
    if (!names.has(name)) {
      throw mismatch(
        `spec.inputAxes names ${name}, which is not an input of the model`,
        `model inputs: ${[...names].join(', ')}; fix the --input-axis flag`,
      )
    }
  }
  const batchName = sharedBatchName(sig.inputs)
  const out: InputAxes = {}
  for (const v of sig.inputs) {
    const axis = declared[v.name] ?? inferredAxis(v, batchName)
    if (axis === undefined) {
      throw mismatch(
        `input ${v.name} has several dynamic axes and none is shared with the other inputs, so its batch axis cannot be told: ${axisFix(v.name)}`,
        `model shape [${v.shape?.join(', ')}]`,
      )
    }
    out[v.name] = axis
  }
  return out
}

/** Checks inputs against the model before any compute; returns the sample count and each input's axis. */
export function validateInputAxes(
  sig: ModelSignature,
  inputs: NamedTensors,
  declared: InputAxes | undefined,
  microBatchSize: number,
  maxTensorElements: number,
): { samples: number; axes: InputAxes } {
  const expected = new Set(sig.inputs.map((i) => i.name))
  for (const name of Object.keys(inputs)) {
    if (!expected.has(name)) {
      throw mismatch(
        `input ${name} is not an input of the model`,
        `model inputs: ${[...expected].join(', ')}`,
      )
    }
  }
  // per-input blockers first (missing, size, dtype), in the model's input order
  for (const want of sig.inputs) {
    const got = inputs[want.name]
    if (!got)
      throw mismatch(`the model's input ${want.name} is missing`, `given: ${Object.keys(inputs).join(', ')}`)
    checkTensor(want.name, got)
    if (elementCount(got.dims) > maxTensorElements) {
      throw new ExecutorError(
        'EXECUTOR_TENSOR_TOO_LARGE',
        `input ${want.name} has more elements than allowed`,
        {
          details: `[${got.dims.join(', ')}] > ${maxTensorElements} elements`,
        },
      )
    }
    if (got.dtype !== want.type)
      throw mismatch(`input ${want.name} is ${got.dtype}; the model takes ${want.type}`)
  }
  const axes = resolveInputAxes(sig, declared)
  for (const want of sig.inputs) checkInputShape(want, inputs[want.name]!, axes[want.name]!)
  const samples = sampleCount(sig, inputs, axes)
  for (const want of sig.inputs) checkFixedBatch(want, axes[want.name]!, samples, microBatchSize)
  return { samples, axes }
}

/** Rank and fixed sizes; a batched input's batch axis may be any size, a broadcast one's none. */
function checkInputShape(want: ValueSignature, got: HostTensor, axis: InputAxis): void {
  const name = want.name
  if (axis !== 'broadcast' && axis >= got.dims.length) {
    throw mismatch(
      got.dims.length === 0
        ? `input ${name} is a scalar, so it has no batch axis: ${axisFix(name, 'broadcast')}`
        : `input ${name} has rank ${got.dims.length}, so it has no axis ${axis}: ${axisFix(name)}`,
    )
  }
  const shape = want.shape
  if (shape === undefined) return
  if (shape.length !== got.dims.length) {
    throw mismatch(
      `input ${name} has rank ${got.dims.length}; the model takes rank ${shape.length}`,
      `model shape [${shape.join(', ')}], given [${got.dims.join(', ')}]`,
    )
  }
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || i === axis || d === got.dims[i]) return
    throw mismatch(
      `input ${name} has size ${got.dims[i]} on axis ${i}; the model takes ${d}`,
      axis === 'broadcast' ? undefined : `its batch axis is ${axis}; if that is wrong, ${axisFix(name)}`,
    )
  })
}

/** The batched inputs' common size on their batch axes; 1 when every input is broadcast. */
function sampleCount(sig: ModelSignature, inputs: NamedTensors, axes: InputAxes): number {
  let first: { name: string; axis: number; n: number } | undefined
  for (const want of sig.inputs) {
    const axis = axes[want.name]!
    if (axis === 'broadcast') continue
    const n = inputs[want.name]!.dims[axis]!
    if (first === undefined) first = { name: want.name, axis, n }
    else if (n !== first.n) {
      throw mismatch(
        `inputs disagree on the sample count: ${first.name} has ${first.n} on its batch axis ${first.axis}, ${want.name} has ${n} on its batch axis ${axis}`,
        `if ${want.name}'s batch axis is another, or it is shared by every sample, ${axisFix(want.name)}`,
      )
    }
  }
  if (first === undefined) return 1
  if (first.n === 0)
    throw mismatch('the job has no samples', `input ${first.name} is empty on its batch axis ${first.axis}`)
  return first.n
}

function checkFixedBatch(
  want: ValueSignature,
  axis: InputAxis,
  samples: number,
  microBatchSize: number,
): void {
  if (axis === 'broadcast') return
  const d = want.shape?.[axis]
  if (typeof d !== 'number') return
  if (d !== microBatchSize) {
    throw mismatch(
      `input ${want.name} has a fixed batch axis ${axis} of size ${d}: pass --micro-batch ${d} (spec.profile.microBatchSize)`,
      `if axis ${axis} is not its batch axis, ${axisFix(want.name)}`,
    )
  }
  if (samples % d !== 0) {
    throw mismatch(
      `input ${want.name} has a fixed batch axis of size ${d}, so the sample count (${samples}) must be a multiple of ${d}`,
    )
  }
}

/** Entries [start, end) along `axis` (a copy unless the axis is 0, then a view). */
export function sliceAxis(t: HostTensor, axis: number, start: number, end: number): HostTensor {
  const size = dtypeSize(t.dtype)
  const outer = elementCount(t.dims.slice(0, axis))
  const inner = elementCount(t.dims.slice(axis + 1)) * size
  const n = t.dims[axis]!
  const dims = t.dims.map((d, i) => (i === axis ? end - start : d))
  if (outer === 1) return { dtype: t.dtype, dims, data: t.data.subarray(start * inner, end * inner) }
  const span = (end - start) * inner
  const data = new Uint8Array(outer * span)
  for (let o = 0; o < outer; o++) {
    const from = (o * n + start) * inner
    data.set(t.data.subarray(from, from + span), o * span)
  }
  return { dtype: t.dtype, dims, data }
}

/** Joins tensors along `axis`: the inverse of slicing a batch into micro-batches. */
export function concatAxis(name: string, parts: readonly HostTensor[], axis: number): HostTensor {
  const first = parts[0]
  if (!first) throw new ExecutorError('EXECUTOR_RUN_FAILED', `no parts for output ${name}`)
  const key = (t: HostTensor) => t.dims.map((d, i) => (i === axis ? '*' : d)).join(',')
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.dims.length <= axis || key(p) !== key(first)) {
      throw new ExecutorError(
        'EXECUTOR_RUN_FAILED',
        `output ${name} changes dtype or shape between micro-batches`,
        {
          details: `every output must have its batch axis (${axis}) and fixed other dims`,
        },
      )
    }
  }
  const size = dtypeSize(first.dtype)
  const outer = elementCount(first.dims.slice(0, axis))
  const inner = elementCount(first.dims.slice(axis + 1)) * size
  const total = parts.reduce((a, p) => a + p.dims[axis]!, 0)
  const data = new Uint8Array(outer * total * inner)
  for (let o = 0; o < outer; o++) {
    let at = o * total * inner
    for (const p of parts) {
      const span = p.dims[axis]! * inner
      data.set(p.data.subarray(o * span, (o + 1) * span), at)
      at += span
    }
  }
  return { dtype: first.dtype, dims: first.dims.map((d, i) => (i === axis ? total : d)), data }
}

/** Each output's batch axis for joining micro-batches: the shared dynamic name's position, else 0. */
export function outputAxes(sig: ModelSignature): Record<string, number> {
  const batchName = sharedBatchName(sig.outputs)
  const out: Record<string, number> = {}
  for (const v of sig.outputs) {
    const i = batchName === undefined ? -1 : (v.shape?.indexOf(batchName) ?? -1)
    out[v.name] = Math.max(i, 0)
  }
  return out
}

/** The feeds of micro-batch [start, end): batched inputs cut along their axes, broadcast ones whole. */
export function feedsOf(inputs: NamedTensors, axes: InputAxes, start: number, end: number): NamedTensors {
  const feeds: NamedTensors = {}
  for (const [name, t] of Object.entries(inputs)) {
    const axis = axes[name] ?? 0
    feeds[name] = axis === 'broadcast' ? t : sliceAxis(t, axis, start, end)
  }
  return feeds
}

/** A decoded graph value as a signature entry: unknown dims become names no other value shares. */
function signatureOf(v: OnnxValueInfo, index: number): ValueSignature {
  return {
    name: v.name,
    type: v.elemType ?? 'non-tensor',
    shape: v.shape?.map((d, i) => (d === null ? `?${index}.${i}` : d)),
  }
}

/**
 * outputAxes from the model file itself, for a node that checks outputs without loading the
 * model into ONNX Runtime (the requester slicing a result file into its committed leaves).
 */
export function outputAxesOfModel(model: Uint8Array): Record<string, number> {
  const graph = decodeOnnxModel(model).graph
  return outputAxes({ inputs: graph.inputs.map(signatureOf), outputs: graph.outputs.map(signatureOf) })
}
