import { OcnError } from '@ocn/protocol'
/**
 * Failures of paid inference over a payment channel. The codes travel on the wire in a
 * rejection, so a client learns exactly why its voucher or request was refused.
 */
export const ChannelErrorCode = {
  /** the voucher's cumulative amount is not above the last accepted one (a replay) */
  VOUCHER_NOT_NEWER: 'VOUCHER_NOT_NEWER',
  /** the voucher adds less than the price of the request */
  VOUCHER_UNDERPAID: 'VOUCHER_UNDERPAID',
  /** the voucher's cumulative amount exceeds the channel's deposit */
  VOUCHER_OVERSPENT: 'VOUCHER_OVERSPENT',
  /** the voucher is not signed by the channel's requester */
  INVALID_SIGNATURE: 'INVALID_SIGNATURE',
  /** no channel with that id on the PaymentChannels contract */
  UNKNOWN_CHANNEL: 'UNKNOWN_CHANNEL',
  /** the channel is for another provider */
  WRONG_PROVIDER: 'WRONG_PROVIDER',
  /** the channel is finalized, or its close timeout ends too soon to redeem safely */
  CHANNEL_CLOSING: 'CHANNEL_CLOSING',
  /** the request names a model this provider does not serve */
  UNKNOWN_MODEL: 'UNKNOWN_MODEL',
  /** the request is malformed or over a limit */
  BAD_REQUEST: 'BAD_REQUEST',
  /** the model failed on the inputs */
  INFERENCE_FAILED: 'INFERENCE_FAILED',
  /** the chain could not be read or written */
  CHAIN: 'CHAIN',
  /** the stream failed, timed out or the peer broke the protocol */
  TRANSPORT: 'TRANSPORT',
  /** the provider answered with an error (see `remoteCode`) */
  REJECTED: 'REJECTED',
  /** nothing to redeem for that channel */
  NOTHING_TO_REDEEM: 'NOTHING_TO_REDEEM',
  ABORTED: 'ABORTED',
} as const
export type ChannelErrorCode = (typeof ChannelErrorCode)[keyof typeof ChannelErrorCode]

export interface ChannelErrorOptions {
  details?: string | undefined
  cause?: unknown
}

export class ChannelError extends OcnError<ChannelErrorCode> {
  override name = 'ChannelError'
}

/** The provider refused a request; `remoteCode` is the reason it sent. */
export class InferenceRejectedError extends ChannelError {
  override name = 'InferenceRejectedError'
  readonly remoteCode: ChannelErrorCode
  constructor(remoteCode: ChannelErrorCode, message: string) {
    super(ChannelErrorCode.REJECTED, `provider rejected the request: ${remoteCode}`, { details: message })
    this.remoteCode = remoteCode
  }
}

export function isChannelErrorCode(value: unknown): value is ChannelErrorCode {
  return typeof value === 'string' && Object.hasOwn(ChannelErrorCode, value)
}
