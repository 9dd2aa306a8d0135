/**
 * The `/ocn/infer` frames of @ocn/protocol as the channels use them: with the executor's
 * tensors, the channel error codes, and every malformed frame a ChannelError(BAD_REQUEST),
 * which the provider sends back and the client reports.
 */
import {
  decodeInferRequest as decodeRequestFrame,
  decodeInferResponse as decodeResponseFrame,
  encodeInferRequest as encodeRequestFrame,
  encodeInferResponse as encodeResponseFrame,
  type InferRequest as InferRequestFrame,
  type InferTensors,
  ProtocolError,
} from '@ocn/protocol'
import { isTensorDType, type NamedTensors } from '../executor/tensor.js'
import { ChannelError, ChannelErrorCode, isChannelErrorCode } from './errors.js'

export interface InferRequest extends Omit<InferRequestFrame, 'inputs'> {
  inputs: NamedTensors
}

export type InferResponse =
  | { ok: true; outputs: NamedTensors /** the cumulative amount the provider now holds */; accepted: bigint }
  | { ok: false; code: ChannelErrorCode; message: string }

function bad(details: string, cause?: unknown): ChannelError {
  return new ChannelError(ChannelErrorCode.BAD_REQUEST, 'malformed /ocn/infer frame', { details, cause })
}

/** Runs a protocol decoder, turning its ProtocolError into the channels' BAD_REQUEST. */
function decoding<T>(decode: () => T): T {
  try {
    return decode()
  } catch (cause) {
    if (cause instanceof ProtocolError) throw bad(cause.details ?? cause.shortMessage, cause)
    throw cause
  }
}

/** The frame's dtypes are the executor's; one it did not know would be refused here. */
function hostTensors(tensors: InferTensors): NamedTensors {
  const host: NamedTensors = {}
  for (const [name, { dtype, dims, data }] of Object.entries(tensors)) {
    if (!isTensorDType(dtype)) throw bad(`tensor ${name}: the executor has no dtype ${dtype}`)
    host[name] = { dtype, dims, data }
  }
  return host
}

export function encodeInferRequest(request: InferRequest): Uint8Array {
  return encodeRequestFrame(request)
}

export function decodeInferRequest(bytes: Uint8Array): InferRequest {
  const request = decoding(() => decodeRequestFrame(bytes))
  return { ...request, inputs: hostTensors(request.inputs) }
}

export function encodeInferResponse(response: InferResponse): Uint8Array {
  return encodeResponseFrame(response)
}

export function decodeInferResponse(bytes: Uint8Array): InferResponse {
  const response = decoding(() => decodeResponseFrame(bytes))
  if (response.ok) return { ...response, outputs: hostTensors(response.outputs) }
  if (!isChannelErrorCode(response.code)) throw bad('response is neither a result nor a known rejection')
  return { ok: false, code: response.code, message: response.message }
}
