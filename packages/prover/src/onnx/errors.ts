import { OcnError } from '@ocn/protocol'
export type OnnxErrorCode =
  /** the bytes are not a well-formed ONNX ModelProto */
  | 'ONNX_DECODE'
  /** the model is well-formed but uses something this codec does not handle */
  | 'ONNX_UNSUPPORTED'
  /** a graph does not have the shape a caller asked for (e.g. not a dense MLP) */
  | 'ONNX_GRAPH_SHAPE'
  /** a tensor's declared dims and data disagree */
  | 'ONNX_TENSOR'

export interface OnnxErrorOptions {
  details?: string
  cause?: unknown
}

/** The typed error of the ONNX codec, in the viem spirit: a stable code, a short message, details, a cause. */
export class OnnxError extends OcnError<OnnxErrorCode> {
  override name = 'OnnxError'
}
