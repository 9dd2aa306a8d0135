/**
 * Requester side: opens a channel to a provider, then runs inference over one
 * `/ocn/infer/1.0.0` session, paying each request with a voucher for the cumulative amount
 * owed so far. Requests on a session go one after another, so vouchers arrive in order.
 */
import type { Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import {
  approveToken,
  openChannel,
  type ProtocolWalletClient,
  startChannelClose,
  withdrawChannel,
} from '@ocn/contracts-client'
import { type ChannelsDomain, signVoucher, type VoucherSigner } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { signTypedData } from 'viem/actions'
import { deadline } from '../core/time.js'
import type { NamedTensors } from '../executor/tensor.js'
import type { OcnHost } from '../p2p/host.js'
import type { PeerTarget } from '../p2p/index.js'
import { toDialTarget } from '../p2p/streams.js'
import { ChannelError, ChannelErrorCode, InferenceRejectedError } from './errors.js'
import { type ChannelClientOptions, defaultChannelClientOptions, INFER_PROTOCOL } from './options.js'
import { decodeInferResponse, encodeInferRequest } from './wire.js'

export interface ChannelClientInit {
  paymentChannels: Address
  token: Address
  domain: ChannelsDomain
  options?: Partial<ChannelClientOptions>
}

export interface ChannelClientComponents {
  host: OcnHost
  /** the requester's account: it funds channels and signs vouchers */
  wallet: ProtocolWalletClient
}

export interface OpenSessionParameters {
  provider: PeerTarget
  channelId: Hex
  modelHash: Hex
  pricePerRequest: bigint
  /** the cumulative amount already signed on this channel (to resume a channel) */
  spent?: bigint
  signal?: AbortSignal
}

export interface InferenceSession {
  readonly channelId: Hex
  /** cumulative amount signed so far */
  readonly spent: bigint
  infer(inputs: NamedTensors, options?: { signal?: AbortSignal }): Promise<NamedTensors>
  close(): Promise<void>
}

export interface ChannelClient {
  /** approves and opens a channel to `provider` (an address), returns its id */
  open(params: { provider: Address; deposit: bigint; closeTimeout?: number }): Promise<Hex>
  session(params: OpenSessionParameters): Promise<InferenceSession>
  /** starts the close timeout of a channel this client opened */
  startClose(channelId: Hex): Promise<void>
  /** after the timeout: recovers what was not spent */
  withdraw(channelId: Hex): Promise<void>
}

export function createChannelClient(
  init: ChannelClientInit,
  components: ChannelClientComponents,
): ChannelClient {
  const options: ChannelClientOptions = { ...defaultChannelClientOptions, ...init.options }
  const { host, wallet } = components
  const signer: VoucherSigner = { signTypedData: (typedData) => signTypedData(wallet, typedData) }

  function transportError(error: unknown, what: string): ChannelError {
    if (error instanceof ChannelError) return error
    return new ChannelError(ChannelErrorCode.TRANSPORT, `${what} failed`, {
      details: (error as { message?: string }).message,
      cause: error,
    })
  }

  async function session(params: OpenSessionParameters): Promise<InferenceSession> {
    let stream: Stream
    try {
      stream = await host.dialProtocol(toDialTarget(params.provider), INFER_PROTOCOL, {
        signal: deadline(params.signal, options.requestTimeoutMs),
      })
    } catch (error) {
      throw transportError(error, 'opening an /ocn/infer session')
    }
    const lp: LengthPrefixedStream<Stream> = lpStream(stream, { maxDataLength: options.maxResponseBytes })
    let spent = params.spent ?? 0n
    let queue: Promise<unknown> = Promise.resolve()
    let broken: ChannelError | undefined

    async function exchange(inputs: NamedTensors, signal: AbortSignal | undefined): Promise<NamedTensors> {
      if (broken) throw broken
      const cumulativeAmount = spent + params.pricePerRequest
      const voucher = await signVoucher(signer, init.domain, {
        channelId: params.channelId,
        cumulativeAmount,
      })
      const timeout = deadline(signal, options.requestTimeoutMs)
      let response: ReturnType<typeof decodeInferResponse>
      try {
        await lp.write(encodeInferRequest({ modelHash: params.modelHash, voucher, inputs }), {
          signal: timeout,
        })
        response = decodeInferResponse((await lp.read({ signal: timeout })).subarray())
      } catch (error) {
        // the session's framing is unknown now; the voucher may or may not have arrived
        broken = transportError(error, 'an /ocn/infer request')
        stream.abort(broken)
        throw broken
      }
      if (!response.ok) throw new InferenceRejectedError(response.code, response.message)
      if (response.accepted !== cumulativeAmount) {
        throw new ChannelError(ChannelErrorCode.TRANSPORT, 'the provider acknowledged another amount', {
          details: `sent ${cumulativeAmount}, acknowledged ${response.accepted}`,
        })
      }
      spent = cumulativeAmount
      return response.outputs
    }

    return {
      channelId: params.channelId,
      get spent() {
        return spent
      },
      infer(inputs, callOptions = {}) {
        // one request at a time per session, so vouchers reach the provider in order
        const run = queue.then(() => exchange(inputs, callOptions.signal))
        queue = run.catch(() => {})
        return run
      },
      async close() {
        await queue
        await stream.close().catch(() => stream.abort(new Error('close failed')))
      },
    }
  }

  return {
    async open({ provider, deposit, closeTimeout }) {
      await approveToken(wallet, { token: init.token, spender: init.paymentChannels, amount: deposit })
      const { channelId } = await openChannel(wallet, {
        paymentChannels: init.paymentChannels,
        provider,
        deposit,
        closeTimeout: closeTimeout ?? options.closeTimeoutSeconds,
      })
      return channelId
    },
    session,
    async startClose(channelId) {
      await startChannelClose(wallet, { paymentChannels: init.paymentChannels, channelId })
    },
    async withdraw(channelId) {
      await withdrawChannel(wallet, { paymentChannels: init.paymentChannels, channelId })
    },
  }
}
