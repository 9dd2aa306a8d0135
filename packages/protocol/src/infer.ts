/**
 * Frames of `/ocn/infer/1.0.0`, paid inference over a payment channel. Each length-prefixed
 * frame is a 4-byte big-endian header length, a JSON header, then the raw tensor bytes the
 * header describes in order. Tensors stay binary (no base64 inflation); amounts are decimal
 * strings so no JSON number ever has to hold a uint256.
 *
 * Every decoding failure is a `ProtocolError` whose `shortMessage` is
 * "malformed /ocn/infer frame" and whose `details` say what is wrong.
 */
import { type Hex, isHex } from 'viem'
import { ProtocolError, ProtocolErrorCode } from './errors.js'
import type { SignedVoucher } from './voucher.js'

/** The element types a frame may carry, with their size in bytes. */
export const inferTensorDTypeBytes = {
  float32: 4,
  float16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint64: 8,
  uint32: 4,
  uint16: 2,
  uint8: 1,
  bool: 1,
} as const
export type InferTensorDType = keyof typeof inferTensorDTypeBytes

export interface InferTensor {
  dtype: InferTensorDType
  dims: number[]
  /** little-endian element bytes, exactly (product of dims) * (dtype size) long */
  data: Uint8Array
}

export type InferTensors = Record<string, InferTensor>

export interface InferRequest {
  /** SHA-256 of the model the requester wants run (the provider's `modelHash`) */
  modelHash: Hex
  voucher: SignedVoucher
  inputs: InferTensors
}

export type InferResponse =
  | { ok: true; outputs: InferTensors /** the cumulative amount the provider now holds */; accepted: bigint }
  /** `code` is the provider's reason, one of the node's channel error codes */
  | { ok: false; code: string; message: string }

interface TensorHeader {
  name: string
  dtype: string
  dims: number[]
  bytes: number
}

const MAX_HEADER_BYTES = 64 * 1024
const MAX_TENSORS = 64
const MAX_MESSAGE_CHARS = 500
const REJECTION_CODE = /^[A-Z][A-Z_]{0,63}$/
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

function malformed(code: ProtocolErrorCode, details: string, cause?: unknown): ProtocolError {
  return new ProtocolError(code, 'malformed /ocn/infer frame', { details, cause })
}

function isInferTensorDType(value: string): value is InferTensorDType {
  return Object.hasOwn(inferTensorDTypeBytes, value)
}

function frame(header: object, tensors: InferTensors): Uint8Array {
  const entries = Object.entries(tensors)
  const headerBytes = utf8.encode(
    JSON.stringify({
      ...header,
      tensors: entries.map(([name, t]) => ({ name, dtype: t.dtype, dims: t.dims, bytes: t.data.byteLength })),
    }),
  )
  const total = 4 + headerBytes.byteLength + entries.reduce((n, [, t]) => n + t.data.byteLength, 0)
  const out = new Uint8Array(total)
  new DataView(out.buffer).setUint32(0, headerBytes.byteLength)
  out.set(headerBytes, 4)
  let offset = 4 + headerBytes.byteLength
  for (const [, t] of entries) {
    out.set(t.data, offset)
    offset += t.data.byteLength
  }
  return out
}

function readHeader(bytes: Uint8Array): { header: Record<string, unknown>; length: number } {
  if (bytes.byteLength < 4)
    throw malformed(ProtocolErrorCode.MALFORMED_ENCODING, 'frame shorter than its header length')
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
  if (length > MAX_HEADER_BYTES || 4 + length > bytes.byteLength)
    throw malformed(ProtocolErrorCode.MALFORMED_ENCODING, 'header length out of range')
  let header: unknown
  try {
    header = JSON.parse(fromUtf8.decode(bytes.subarray(4, 4 + length)))
  } catch (cause) {
    throw malformed(ProtocolErrorCode.MALFORMED_ENCODING, 'header is not JSON', cause)
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw malformed(ProtocolErrorCode.INVALID_SCHEMA, 'header is not an object')
  const h = header as Record<string, unknown>
  if (h.v !== 1) throw malformed(ProtocolErrorCode.UNSUPPORTED_VERSION, 'unsupported version')
  return { header: h, length }
}

function isTensorHeader(t: Partial<TensorHeader>): t is TensorHeader & { dtype: InferTensorDType } {
  return (
    typeof t === 'object' &&
    t !== null &&
    typeof t.name === 'string' &&
    t.name.length > 0 &&
    t.name.length <= 128 &&
    typeof t.dtype === 'string' &&
    isInferTensorDType(t.dtype) &&
    Array.isArray(t.dims) &&
    t.dims.length <= 8 &&
    t.dims.every((d) => Number.isSafeInteger(d) && d >= 0) &&
    Number.isSafeInteger(t.bytes) &&
    (t.bytes as number) >= 0
  )
}

function unframe(bytes: Uint8Array): { header: Record<string, unknown>; tensors: InferTensors } {
  const { header, length } = readHeader(bytes)
  const list = header.tensors
  if (!Array.isArray(list) || list.length > MAX_TENSORS)
    throw malformed(ProtocolErrorCode.INVALID_SCHEMA, 'tensors is not a list of at most 64')
  const tensors: InferTensors = {}
  let offset = 4 + length
  for (const item of list as Partial<TensorHeader>[]) {
    if (!isTensorHeader(item)) throw malformed(ProtocolErrorCode.INVALID_SCHEMA, 'tensor header is malformed')
    const { name, dtype, dims } = item
    if (Object.hasOwn(tensors, name))
      throw malformed(ProtocolErrorCode.INVALID_VALUE, `tensor ${name} appears twice`)
    const end = offset + item.bytes
    if (end > bytes.byteLength)
      throw malformed(ProtocolErrorCode.MALFORMED_ENCODING, `tensor ${name} runs past the frame`)
    if (dims.reduce((n, d) => n * d, 1) * inferTensorDTypeBytes[dtype] !== item.bytes)
      throw malformed(ProtocolErrorCode.INVALID_VALUE, `tensor ${name}: size does not match dims`)
    // a copy, so the tensor does not pin the whole frame nor alias a pooled buffer
    tensors[name] = { dtype, dims, data: new Uint8Array(bytes.subarray(offset, end)) }
    offset = end
  }
  if (offset !== bytes.byteLength)
    throw malformed(ProtocolErrorCode.MALFORMED_ENCODING, 'trailing bytes after the last tensor')
  return { header, tensors }
}

function parseAmount(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(value))
    throw malformed(ProtocolErrorCode.INVALID_SCHEMA, `${what} is not a decimal amount`)
  return BigInt(value)
}

function parseHex(value: unknown, bytes: number, what: string): Hex {
  if (typeof value !== 'string' || !isHex(value, { strict: true }) || value.length !== 2 + 2 * bytes) {
    throw malformed(ProtocolErrorCode.INVALID_SCHEMA, `${what} is not ${bytes} bytes of hex`)
  }
  return value.toLowerCase() as Hex
}

export function encodeInferRequest(request: InferRequest): Uint8Array {
  return frame(
    {
      v: 1,
      model: request.modelHash,
      voucher: {
        channelId: request.voucher.channelId,
        cumulativeAmount: request.voucher.cumulativeAmount.toString(),
        signature: request.voucher.signature,
      },
    },
    request.inputs,
  )
}

export function decodeInferRequest(bytes: Uint8Array): InferRequest {
  const { header, tensors } = unframe(bytes)
  const voucher = header.voucher as Record<string, unknown> | undefined
  if (typeof voucher !== 'object' || voucher === null)
    throw malformed(ProtocolErrorCode.INVALID_SCHEMA, 'voucher is missing')
  return {
    modelHash: parseHex(header.model, 32, 'model'),
    voucher: {
      channelId: parseHex(voucher.channelId, 32, 'voucher.channelId'),
      cumulativeAmount: parseAmount(voucher.cumulativeAmount, 'voucher.cumulativeAmount'),
      signature: parseHex(voucher.signature, 65, 'voucher.signature'),
    },
    inputs: tensors,
  }
}

export function encodeInferResponse(response: InferResponse): Uint8Array {
  if (response.ok) return frame({ v: 1, ok: true, accepted: response.accepted.toString() }, response.outputs)
  return frame(
    { v: 1, ok: false, code: response.code, message: response.message.slice(0, MAX_MESSAGE_CHARS) },
    {},
  )
}

export function decodeInferResponse(bytes: Uint8Array): InferResponse {
  const { header, tensors } = unframe(bytes)
  if (header.ok === true)
    return { ok: true, outputs: tensors, accepted: parseAmount(header.accepted, 'accepted') }
  if (header.ok === false && typeof header.code === 'string' && REJECTION_CODE.test(header.code)) {
    const message = typeof header.message === 'string' ? header.message.slice(0, MAX_MESSAGE_CHARS) : ''
    return { ok: false, code: header.code, message }
  }
  throw malformed(ProtocolErrorCode.INVALID_SCHEMA, 'response is neither a result nor a known rejection')
}
