import { OcnError } from '@ocn/protocol'
export type ZkErrorCode =
  /** The model is not a dense ReLU MLP the circuit generator handles. */
  | 'ZK_UNSUPPORTED_MODEL'
  /** A weight, bias, input or activation does not fit the fixed-point range. */
  | 'ZK_VALUE_OUT_OF_RANGE'
  /** An input vector has the wrong length or non-finite values. */
  | 'ZK_BAD_INPUT'
  /** circom failed to compile the generated circuit. */
  | 'ZK_COMPILE_FAILED'
  /** Powers of tau or Groth16 setup failed (for example a ptau file too small for the circuit). */
  | 'ZK_SETUP_FAILED'
  /** Witness generation or proving failed. */
  | 'ZK_PROVE_FAILED'
  /** A proof or its public signals are malformed (wrong count, outside the field, bad encoding). */
  | 'ZK_BAD_PROOF'
  /** Reading or writing the artifact cache failed, or the cache holds something unexpected. */
  | 'ZK_ARTIFACTS'
  /** A child process or worker died or timed out. */
  | 'ZK_WORKER_FAILED'
  /** The caller aborted the operation. */
  | 'ZK_ABORTED'

export interface ZkErrorOptions {
  details?: string | undefined
  cause?: unknown
}

/** The one error class of the zk subsystem; `code` is stable, `shortMessage` is for people. */
export class ZkError extends OcnError<ZkErrorCode> {
  override readonly name = 'ZkError'
}
