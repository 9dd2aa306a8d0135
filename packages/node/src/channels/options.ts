/** The stream protocol a provider serves paid inference on. */
export const INFER_PROTOCOL = '/ocn/infer/1.0.0'

export interface ChannelServerOptions {
  /** largest request frame accepted (header, voucher and input tensors), bytes */
  maxRequestBytes: number
  /** largest response frame a client accepts, bytes */
  maxResponseBytes: number
  /** most samples (rows of the first input) in one request */
  maxSamplesPerRequest: number
  /** a session stream that sends nothing for this long is closed, ms */
  idleTimeoutMs: number
  /** limit of one inference run, ms */
  inferenceTimeoutMs: number
  /** concurrent inbound sessions (streams) this provider serves */
  maxInboundStreams: number
  /**
   * Refuse new requests once the channel's close timeout ends within this many seconds: the
   * provider needs that long to get its redeem transaction mined before the requester may
   * withdraw.
   */
  closeSafetyMarginSeconds: number
  /** channel state read from the chain is reused this long before being read again, ms */
  channelCacheMs: number
  /**
   * How often the channels holding unredeemed vouchers are checked for a started close, ms
   * (0: never). A close found is answered by redeeming at once, well inside the timeout.
   */
  closeWatchIntervalMs: number
}

export const defaultChannelServerOptions: ChannelServerOptions = {
  maxRequestBytes: 8 * 1024 * 1024,
  maxResponseBytes: 8 * 1024 * 1024,
  maxSamplesPerRequest: 4096,
  idleTimeoutMs: 60_000,
  inferenceTimeoutMs: 30_000,
  maxInboundStreams: 64,
  closeSafetyMarginSeconds: 30,
  channelCacheMs: 5_000,
  closeWatchIntervalMs: 15_000,
}

export interface ChannelClientOptions {
  /** wait for one response, ms */
  requestTimeoutMs: number
  maxResponseBytes: number
  /** close timeout of channels this client opens, seconds */
  closeTimeoutSeconds: number
}

export const defaultChannelClientOptions: ChannelClientOptions = {
  requestTimeoutMs: 30_000,
  maxResponseBytes: 8 * 1024 * 1024,
  closeTimeoutSeconds: 3600,
}
