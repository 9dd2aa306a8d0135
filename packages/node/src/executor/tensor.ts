/**
 * Tensors as the executor moves them between files, workers and ONNX Runtime: a dtype,
 * dims and little-endian bytes. Plain data, so it crosses worker boundaries by transfer.
 */
import { dtypeByteSize, type OnnxTypedArray } from '@ocn/prover/onnx'
import { ExecutorError } from './errors.js'

export const tensorDTypes = [
  'float32',
  'float16',
  'float64',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint64',
  'uint32',
  'uint16',
  'uint8',
  'bool',
] as const
export type TensorDType = (typeof tensorDTypes)[number]

export interface HostTensor {
  dtype: TensorDType
  dims: number[]
  /** little-endian element bytes, exactly elementCount(dims) * dtypeSize(dtype) long */
  data: Uint8Array
}

export type NamedTensors = Record<string, HostTensor>

export function isTensorDType(s: string): s is TensorDType {
  return (tensorDTypes as readonly string[]).includes(s)
}

/** Bytes per element (@ocn/prover's ONNX table). */
export const dtypeSize: (dtype: TensorDType) => number = dtypeByteSize

export function elementCount(dims: readonly number[]): number {
  let n = 1
  for (const d of dims) n *= d
  return n
}

export function checkTensor(name: string, t: HostTensor): void {
  if (!t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ExecutorError(
      'EXECUTOR_FORMAT_INVALID',
      `tensor ${name} has invalid dims [${t.dims.join(', ')}]`,
    )
  }
  const want = elementCount(t.dims) * dtypeSize(t.dtype)
  if (t.data.byteLength !== want) {
    throw new ExecutorError(
      'EXECUTOR_FORMAT_INVALID',
      `tensor ${name} holds ${t.data.byteLength} bytes, dims need ${want}`,
    )
  }
}

/**
 * A typed-array view (ONNX Runtime's representation) over the tensor's bytes; copies only
 * when the bytes are not aligned for the element size. float16 is a Uint16Array of bit
 * patterns, bool a Uint8Array of 0/1.
 */
export function typedView(t: HostTensor): OnnxTypedArray {
  const size = dtypeSize(t.dtype)
  let bytes = t.data
  if (bytes.byteOffset % size !== 0) bytes = bytes.slice()
  const { buffer, byteOffset } = bytes
  const n = bytes.byteLength / size
  switch (t.dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, n)
    case 'float64':
      return new Float64Array(buffer, byteOffset, n)
    case 'float16':
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, n)
    case 'int16':
      return new Int16Array(buffer, byteOffset, n)
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, n)
    case 'uint64':
      return new BigUint64Array(buffer, byteOffset, n)
    case 'int32':
      return new Int32Array(buffer, byteOffset, n)
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, n)
    case 'int8':
      return new Int8Array(buffer, byteOffset, n)
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer, byteOffset, n)
  }
}

export function fromTypedArray(
  dtype: TensorDType,
  dims: readonly number[],
  values: ArrayBufferView,
): HostTensor {
  return { dtype, dims: [...dims], data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }
}

/** Rows [start, end) along the first axis (a view, no copy). */
export function sliceRows(t: HostTensor, start: number, end: number): HostTensor {
  const rowBytes = (elementCount(t.dims.slice(1)) * dtypeSize(t.dtype)) | 0
  return {
    dtype: t.dtype,
    dims: [end - start, ...t.dims.slice(1)],
    data: t.data.subarray(start * rowBytes, end * rowBytes),
  }
}

/** Rows picked by index along the first axis (a copy). */
export function gatherRows(t: HostTensor, rows: ArrayLike<number>): HostTensor {
  const rowBytes = elementCount(t.dims.slice(1)) * dtypeSize(t.dtype)
  const out = new Uint8Array(rows.length * rowBytes)
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!
    out.set(t.data.subarray(r * rowBytes, (r + 1) * rowBytes), i * rowBytes)
  }
  return { dtype: t.dtype, dims: [rows.length, ...t.dims.slice(1)], data: out }
}

/** Concatenates tensors of the same dtype and trailing dims along the first axis. */
export function concatRows(name: string, parts: readonly HostTensor[]): HostTensor {
  const first = parts[0]
  if (!first) throw new ExecutorError('EXECUTOR_RUN_FAILED', `no parts for output ${name}`)
  const tail = first.dims.slice(1).join(',')
  let rows = 0
  let bytes = 0
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.dims.slice(1).join(',') !== tail || p.dims.length === 0) {
      throw new ExecutorError(
        'EXECUTOR_RUN_FAILED',
        `output ${name} changes dtype or shape between micro-batches`,
        {
          details: 'every output must have the sample axis first and fixed trailing dims',
        },
      )
    }
    rows += p.dims[0]!
    bytes += p.data.byteLength
  }
  const data = new Uint8Array(bytes)
  let o = 0
  for (const p of parts) {
    data.set(p.data, o)
    o += p.data.byteLength
  }
  return { dtype: first.dtype, dims: [rows, ...first.dims.slice(1)], data }
}
