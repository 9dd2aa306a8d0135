/**
 * Frames of `/ocn/infer/1.0.0`. Each length-prefixed frame is a 4-byte big-endian header
 * length, a JSON header, then the raw tensor bytes the header describes in order. Tensors
 * stay binary (no base64 inflation); amounts are decimal strings so no JSON number ever
 * has to hold a uint256.
 */
import type { SignedVoucher } from '@ocn/protocol'
import { type Hex, isHex } from 'viem'
import { checkTensor, isTensorDType, type NamedTensors } from '../executor/tensor.js'
import { ChannelError, ChannelErrorCode, isChannelErrorCode } from './errors.js'

export interface InferRequest {
  /** SHA-256 of the model the requester wants run (the provider's `modelHash`) */
  modelHash: Hex
  voucher: SignedVoucher
  inputs: NamedTensors
}

export type InferResponse =
  | { ok: true; outputs: NamedTensors /** the cumulative amount the provider now holds */; accepted: bigint }
  | { ok: false; code: ChannelErrorCode; message: string }

interface TensorHeader {
  name: string
  dtype: string
  dims: number[]
  bytes: number
}

const MAX_HEADER_BYTES = 64 * 1024
const MAX_TENSORS = 64
const MAX_MESSAGE_CHARS = 500
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

function bad(details: string): ChannelError {
  return new ChannelError(ChannelErrorCode.BAD_REQUEST, 'malformed /ocn/infer frame', { details })
}

function frame(header: object, tensors: NamedTensors): Uint8Array {
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

function unframe(bytes: Uint8Array): { header: Record<string, unknown>; tensors: NamedTensors } {
  if (bytes.byteLength < 4) throw bad('frame shorter than its header length')
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
  if (headerLength > MAX_HEADER_BYTES || 4 + headerLength > bytes.byteLength)
    throw bad('header length out of range')
  let header: unknown
  try {
    header = JSON.parse(fromUtf8.decode(bytes.subarray(4, 4 + headerLength)))
  } catch (cause) {
    throw new ChannelError(ChannelErrorCode.BAD_REQUEST, 'malformed /ocn/infer frame', {
      details: 'header is not JSON',
      cause,
    })
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw bad('header is not an object')
  const h = header as Record<string, unknown>
  if (h.v !== 1) throw bad('unsupported version')
  const list = h.tensors
  if (!Array.isArray(list) || list.length > MAX_TENSORS) throw bad('tensors is not a list of at most 64')
  const tensors: NamedTensors = {}
  let offset = 4 + headerLength
  for (const item of list as unknown[]) {
    const t = item as Partial<TensorHeader>
    if (
      typeof t !== 'object' ||
      t === null ||
      typeof t.name !== 'string' ||
      t.name.length === 0 ||
      t.name.length > 128 ||
      typeof t.dtype !== 'string' ||
      !isTensorDType(t.dtype) ||
      !Array.isArray(t.dims) ||
      t.dims.length > 8 ||
      !t.dims.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      !Number.isSafeInteger(t.bytes) ||
      (t.bytes as number) < 0
    ) {
      throw bad('tensor header is malformed')
    }
    if (Object.hasOwn(tensors, t.name)) throw bad(`tensor ${t.name} appears twice`)
    const end = offset + (t.bytes as number)
    if (end > bytes.byteLength) throw bad(`tensor ${t.name} runs past the frame`)
    // a copy, so the tensor does not pin the whole frame nor alias a pooled buffer
    const tensor = {
      dtype: t.dtype,
      dims: t.dims as number[],
      data: new Uint8Array(bytes.subarray(offset, end)),
    }
    try {
      checkTensor(t.name, tensor)
    } catch (cause) {
      throw new ChannelError(ChannelErrorCode.BAD_REQUEST, 'malformed /ocn/infer frame', {
        details: `tensor ${t.name}: size does not match dims`,
        cause,
      })
    }
    tensors[t.name] = tensor
    offset = end
  }
  if (offset !== bytes.byteLength) throw bad('trailing bytes after the last tensor')
  return { header: h, tensors }
}

function parseAmount(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(value))
    throw bad(`${what} is not a decimal amount`)
  return BigInt(value)
}

function parseHex(value: unknown, bytes: number, what: string): Hex {
  if (typeof value !== 'string' || !isHex(value, { strict: true }) || value.length !== 2 + 2 * bytes) {
    throw bad(`${what} is not ${bytes} bytes of hex`)
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
  if (typeof voucher !== 'object' || voucher === null) throw bad('voucher is missing')
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
  if (header.ok === false && isChannelErrorCode(header.code)) {
    const message = typeof header.message === 'string' ? header.message.slice(0, MAX_MESSAGE_CHARS) : ''
    return { ok: false, code: header.code, message }
  }
  throw bad('response is neither a result nor a known rejection')
}
