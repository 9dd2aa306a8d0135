import { OnnxError } from './errors.js'
import { dtypeByteSize, type OnnxDType, type OnnxTensor } from './model.js'

export type OnnxTypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1)
}

/** Builds an initializer tensor from typed values (copied, stored little-endian). */
export function makeTensor(
  name: string,
  dataType: OnnxDType,
  dims: readonly number[],
  values: OnnxTypedArray | readonly number[],
): OnnxTensor {
  const count = elementCount(dims)
  if (values.length !== count) {
    throw new OnnxError(
      'ONNX_TENSOR',
      `tensor ${name}: ${values.length} values for dims [${dims.join(', ')}]`,
    )
  }
  const size = dtypeByteSize(dataType)
  const data = new Uint8Array(count * size)
  const view = new DataView(data.buffer)
  for (let i = 0; i < count; i++) {
    const v = values[i]!
    switch (dataType) {
      case 'float32':
        view.setFloat32(i * 4, Number(v), true)
        break
      case 'float64':
        view.setFloat64(i * 8, Number(v), true)
        break
      case 'int64':
        view.setBigInt64(i * 8, BigInt(v), true)
        break
      case 'uint64':
        view.setBigUint64(i * 8, BigInt(v), true)
        break
      case 'int32':
        view.setInt32(i * 4, Number(v), true)
        break
      case 'uint32':
        view.setUint32(i * 4, Number(v), true)
        break
      case 'int16':
        view.setInt16(i * 2, Number(v), true)
        break
      case 'uint16':
      case 'float16':
      case 'bfloat16':
        // float16/bfloat16 values are given as their 16-bit patterns
        view.setUint16(i * 2, Number(v), true)
        break
      case 'int8':
        view.setInt8(i, Number(v))
        break
      case 'uint8':
      case 'bool':
        view.setUint8(i, Number(v))
        break
      case 'string':
        throw new OnnxError('ONNX_TENSOR', 'makeTensor does not build string tensors')
    }
  }
  return { name, dataType, dims: [...dims], data }
}

/** The tensor's values as a typed array (a copy; float16/bfloat16 as raw 16-bit patterns). */
export function tensorValues(t: OnnxTensor): OnnxTypedArray {
  // a fresh copy with its own ArrayBuffer (Buffer.slice() would be a view of a shared pool)
  const bytes = new Uint8Array(t.data)
  const b = bytes.buffer
  switch (t.dataType) {
    case 'float32':
      return new Float32Array(b)
    case 'float64':
      return new Float64Array(b)
    case 'int64':
      return new BigInt64Array(b)
    case 'uint64':
      return new BigUint64Array(b)
    case 'int32':
      return new Int32Array(b)
    case 'uint32':
      return new Uint32Array(b)
    case 'int16':
      return new Int16Array(b)
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(b)
    case 'int8':
      return new Int8Array(b)
    case 'uint8':
    case 'bool':
      return new Uint8Array(b)
    case 'string':
      throw new OnnxError('ONNX_TENSOR', `tensor ${t.name} holds strings, not numbers`)
  }
}

/** Float values of a float32/float64/float16 tensor as float32 (float16 is widened exactly). */
export function tensorFloat32(t: OnnxTensor): Float32Array {
  const v = tensorValues(t)
  if (t.dataType === 'float32') return v as Float32Array
  if (t.dataType === 'float64') return Float32Array.from(v as Float64Array)
  if (t.dataType === 'float16') return Float32Array.from(v as Uint16Array, float16ToNumber)
  throw new OnnxError('ONNX_TENSOR', `tensor ${t.name} is ${t.dataType}, not a float tensor`)
}

/** IEEE 754 binary16 bits -> number (exact). */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exp = (bits >> 10) & 0x1f
  const frac = bits & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

/** number -> IEEE 754 binary16 bits, round to nearest even. */
export function numberToFloat16(value: number): number {
  const f32 = new Float32Array(1)
  const u32 = new Uint32Array(f32.buffer)
  f32[0] = value
  const x = u32[0]!
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  const e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    let half = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    const mid = 1 << (shift - 1)
    if (rem > mid || (rem === mid && half & 1)) half++
    return sign | half
  }
  let half = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  // a carry out of the mantissa correctly rounds up into the next exponent (or infinity)
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++
  return sign | half
}
