/**
 * Provider side of paid inference: serves `/ocn/infer/1.0.0` sessions. Every request carries
 * a voucher for the cumulative amount the requester owes; the provider accepts it only if
 * it is newer than the last one by at least the price, stays within the deposit, and is
 * signed by the channel's requester, then persists it, runs the model and answers. No
 * transaction per request: the provider redeems the latest voucher once, when it chooses.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import {
  type ChannelState,
  closeByProvider,
  getChannel,
  type ProtocolReadClient,
  type ProtocolWalletClient,
  redeemVoucher,
  type WriteResult,
} from '@ocn/contracts-client'
import { type ChannelsDomain, ProtocolError, verifyVoucher } from '@ocn/protocol'
import type { Registry } from 'prom-client'
import { type Address, formatEther, type Hex, isAddressEqual } from 'viem'
import { getBlock } from 'viem/actions'
import type { Logger } from '../core/logger.js'
import { ortVersion } from '../executor/capabilities.js'
import { type Executor, modelHash as hashModel } from '../executor/executor.js'
import { cpuReplayProfile } from '../executor/spec.js'
import type { OcnHost } from '../p2p/host.js'
import { ChannelError, ChannelErrorCode } from './errors.js'
import { createChannelMetrics } from './metrics.js'
import { type ChannelServerOptions, defaultChannelServerOptions, INFER_PROTOCOL } from './options.js'
import type { StoredVoucher, VoucherStore } from './voucher-store.js'
import { decodeInferRequest, encodeInferResponse, type InferRequest, type InferResponse } from './wire.js'

export interface ServedModel {
  /** ONNX model bytes */
  model: Uint8Array
  /** OPEN wei each request must add to the cumulative voucher */
  pricePerRequest: bigint
  /** outputs returned, default all */
  outputs?: string[]
}

export interface ChannelServerInit {
  models: ServedModel[]
  paymentChannels: Address
  domain: ChannelsDomain
  options?: Partial<ChannelServerOptions>
}

export interface ChannelServerComponents {
  host: OcnHost
  executor: Executor
  /** the provider's account: channels must name it, and it sends the redeem transactions */
  wallet: ProtocolWalletClient
  /** reads channel state; defaults to `wallet` */
  reader?: ProtocolReadClient
  store: VoucherStore
  logger: Logger
  registry?: Registry
}

export interface RedeemOptions {
  /** also finalize the channel (closeByProvider), refunding the requester's rest at once */
  close?: boolean
  signal?: AbortSignal
}

export interface RedeemResult extends WriteResult {
  channelId: Hex
  /** the cumulative amount now redeemed */
  cumulativeAmount: bigint
  /** what this transaction paid */
  payout: bigint
}

export interface ChannelServer {
  start(): Promise<void>
  stop(): Promise<void>
  /** models served, by SHA-256 */
  readonly models: ReadonlyMap<Hex, ServedModel>
  /** the latest accepted voucher of a channel */
  latestVoucher(channelId: Hex): Promise<StoredVoucher | undefined>
  /** redeems the latest voucher of a channel on-chain */
  redeem(channelId: Hex, options?: RedeemOptions): Promise<RedeemResult>
  /** redeems every channel with something unredeemed; failures are logged and skipped */
  redeemAll(options?: RedeemOptions): Promise<RedeemResult[]>
}

interface CachedChannel {
  state: ChannelState
  readAt: number
}

export function createChannelServer(
  init: ChannelServerInit,
  components: ChannelServerComponents,
): ChannelServer {
  const options: ChannelServerOptions = { ...defaultChannelServerOptions, ...init.options }
  const { host, executor, wallet, store } = components
  const reader = components.reader ?? wallet
  const provider = wallet.account.address
  const log = components.logger.child({ component: 'channel-server' })
  const metrics = createChannelMetrics(components.registry)
  const models = new Map<Hex, ServedModel>(init.models.map((m) => [hashModel(m.model), m]))
  const channels = new Map<Hex, CachedChannel>()
  // the latest accepted cumulative amount per channel, the authority for monotonicity
  const accepted = new Map<Hex, bigint>()
  const loading = new Map<Hex, Promise<bigint>>()
  const writes = new Map<Hex, Promise<void>>()
  const sessions = new Set<Stream>()
  let running = false
  let closeWatch: ReturnType<typeof setInterval> | undefined
  let watching: Promise<void> | undefined

  const reject = (code: ChannelErrorCode, message: string): InferResponse => ({ ok: false, code, message })

  async function channelState(channelId: Hex, needDeposit: bigint): Promise<ChannelState | undefined> {
    const cached = channels.get(channelId)
    // reread when stale, or when a voucher exceeds the deposit we know (maybe a top-up)
    if (
      cached &&
      Date.now() - cached.readAt < options.channelCacheMs &&
      needDeposit <= cached.state.deposit
    ) {
      return cached.state
    }
    const state = await getChannel(reader, { paymentChannels: init.paymentChannels, channelId })
    if (state) channels.set(channelId, { state, readAt: Date.now() })
    return state
  }

  function latestAccepted(channelId: Hex): Promise<bigint> {
    const known = accepted.get(channelId)
    if (known !== undefined) return Promise.resolve(known)
    let pending = loading.get(channelId)
    if (!pending) {
      pending = store.get(channelId).then((v) => {
        const value = accepted.get(channelId) ?? v?.cumulativeAmount ?? 0n
        accepted.set(channelId, value)
        loading.delete(channelId)
        return value
      })
      loading.set(channelId, pending)
    }
    return pending
  }

  /** Persists in call order per channel, keeping what was redeemed. */
  function persist(voucher: StoredVoucher): Promise<void> {
    const previous = writes.get(voucher.channelId) ?? Promise.resolve()
    const next = previous.then(async () => {
      const stored = await store.get(voucher.channelId)
      if (stored && stored.cumulativeAmount >= voucher.cumulativeAmount) return
      await store.put({ ...voucher, redeemed: stored?.redeemed ?? 0n })
    })
    writes.set(
      voucher.channelId,
      next.catch(() => {}),
    )
    return next
  }

  async function acceptVoucher(request: InferRequest, price: bigint): Promise<InferResponse | bigint> {
    const { voucher } = request
    const channelId = voucher.channelId
    let state: ChannelState | undefined
    try {
      state = await channelState(channelId, voucher.cumulativeAmount)
    } catch (cause) {
      log.warn({ err: cause }, 'cannot read channel state')
      return reject(ChannelErrorCode.CHAIN, 'the provider cannot read the channel from the chain now')
    }
    if (!state) return reject(ChannelErrorCode.UNKNOWN_CHANNEL, `no channel ${channelId}`)
    if (!isAddressEqual(state.provider, provider)) {
      return reject(ChannelErrorCode.WRONG_PROVIDER, `the channel pays ${state.provider}, not ${provider}`)
    }
    if (state.finalized) return reject(ChannelErrorCode.CHANNEL_CLOSING, 'the channel is finalized')
    if (state.closesAt !== 0) {
      // chain time, not this host's clock: the contract compares against block.timestamp
      const now = Number((await getBlock(reader, { blockTag: 'latest' })).timestamp)
      if (state.closesAt - now < options.closeSafetyMarginSeconds) {
        return reject(
          ChannelErrorCode.CHANNEL_CLOSING,
          `the channel's close timeout ends at ${state.closesAt}`,
        )
      }
    }
    const latest = await latestAccepted(channelId)
    if (voucher.cumulativeAmount <= latest) {
      return reject(
        ChannelErrorCode.VOUCHER_NOT_NEWER,
        `voucher for ${voucher.cumulativeAmount} is not above the accepted ${latest}`,
      )
    }
    if (voucher.cumulativeAmount - latest < price) {
      return reject(
        ChannelErrorCode.VOUCHER_UNDERPAID,
        `voucher adds ${voucher.cumulativeAmount - latest}, the price is ${price}`,
      )
    }
    if (voucher.cumulativeAmount > state.deposit) {
      return reject(
        ChannelErrorCode.VOUCHER_OVERSPENT,
        `voucher for ${voucher.cumulativeAmount} exceeds the deposit ${state.deposit}`,
      )
    }
    try {
      await verifyVoucher(init.domain, voucher, state.requester)
    } catch (error) {
      if (error instanceof ProtocolError)
        return reject(ChannelErrorCode.INVALID_SIGNATURE, error.shortMessage)
      throw error
    }
    // Checked again after the awaits: another session on the same channel may have moved on.
    const now = accepted.get(channelId) ?? latest
    if (voucher.cumulativeAmount - now < price) {
      return reject(ChannelErrorCode.VOUCHER_NOT_NEWER, 'a newer voucher was accepted meanwhile')
    }
    accepted.set(channelId, voucher.cumulativeAmount)
    await persist({ ...voucher, redeemed: 0n })
    metrics.earned.inc(Number(formatEther(voucher.cumulativeAmount - now)))
    return voucher.cumulativeAmount
  }

  async function serve(frame: Uint8Array): Promise<InferResponse> {
    let request: InferRequest
    try {
      request = decodeInferRequest(frame)
    } catch (error) {
      return reject(
        ChannelErrorCode.BAD_REQUEST,
        error instanceof ChannelError ? (error.details ?? '') : 'malformed',
      )
    }
    const served = models.get(request.modelHash)
    if (!served)
      return reject(ChannelErrorCode.UNKNOWN_MODEL, `this provider does not serve ${request.modelHash}`)
    const first = Object.values(request.inputs)[0]
    const samples = first?.dims[0] ?? 0
    if (first === undefined || samples === 0 || samples > options.maxSamplesPerRequest) {
      return reject(
        ChannelErrorCode.BAD_REQUEST,
        `a request holds 1 to ${options.maxSamplesPerRequest} samples`,
      )
    }
    const verdict = await acceptVoucher(request, served.pricePerRequest)
    if (typeof verdict !== 'bigint') return verdict
    try {
      const result = await executor.runInference(
        {
          spec: {
            kind: 'inference',
            profile: cpuReplayProfile(ortVersion(), samples),
            ...(served.outputs === undefined ? {} : { outputs: served.outputs }),
          },
          model: served.model,
          inputs: request.inputs,
        },
        { timeoutMs: options.inferenceTimeoutMs },
      )
      return { ok: true, outputs: result.outputs ?? {}, accepted: verdict }
    } catch (error) {
      // The voucher stays accepted: the requester signed for this request. The message
      // tells it why, so it can decide whether to go on with this provider.
      log.debug({ err: error }, 'inference failed')
      const message = (error as { shortMessage?: string }).shortMessage ?? 'the model failed on these inputs'
      return reject(ChannelErrorCode.INFERENCE_FAILED, message)
    }
  }

  async function handleStream(stream: Stream, connection: Connection): Promise<void> {
    sessions.add(stream)
    const lp = lpStream(stream, { maxDataLength: options.maxRequestBytes })
    try {
      while (running) {
        let frame: Uint8Array
        try {
          frame = (await lp.read({ signal: AbortSignal.timeout(options.idleTimeoutMs) })).subarray()
        } catch (error) {
          // the client closed its side: the session is over
          if ((error as { name?: string }).name === 'UnexpectedEOFError') break
          throw error
        }
        const response = await serve(frame)
        metrics.requests.inc({ outcome: response.ok ? 'ok' : response.code })
        await lp.write(encodeInferResponse(response), { signal: AbortSignal.timeout(options.idleTimeoutMs) })
      }
      await stream.close().catch(() => {})
    } catch (error) {
      log.debug({ err: error, peer: connection.remotePeer.toString() }, 'infer session failed')
      stream.abort(error instanceof Error ? error : new Error(String(error)))
    } finally {
      sessions.delete(stream)
    }
  }

  // one redeem per channel at a time (the close watch and a caller may race)
  const redeeming = new Map<Hex, Promise<unknown>>()
  function redeem(channelId: Hex, redeemOptions: RedeemOptions = {}): Promise<RedeemResult> {
    const previous = redeeming.get(channelId) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(() => redeemNow(channelId, redeemOptions))
    redeeming.set(channelId, next)
    void next
      .catch(() => {})
      .finally(() => {
        if (redeeming.get(channelId) === next) redeeming.delete(channelId)
      })
    return next
  }

  async function redeemNow(channelId: Hex, redeemOptions: RedeemOptions): Promise<RedeemResult> {
    redeemOptions.signal?.throwIfAborted()
    await writes.get(channelId)
    const stored = await store.get(channelId)
    if (!stored || (stored.cumulativeAmount <= stored.redeemed && !redeemOptions.close)) {
      throw new ChannelError(ChannelErrorCode.NOTHING_TO_REDEEM, `nothing unredeemed on channel ${channelId}`)
    }
    const params = {
      paymentChannels: init.paymentChannels,
      channelId,
      cumulativeAmount: stored.cumulativeAmount,
      signature: stored.signature,
    }
    let written: WriteResult
    try {
      written = redeemOptions.close
        ? await closeByProvider(wallet, params)
        : await redeemVoucher(wallet, params)
    } catch (cause) {
      throw new ChannelError(ChannelErrorCode.CHAIN, `redeeming channel ${channelId} failed`, {
        details: (cause as { shortMessage?: string }).shortMessage,
        cause,
      })
    }
    await store.put({ ...stored, redeemed: stored.cumulativeAmount })
    channels.delete(channelId)
    log.info({ channelId, cumulativeAmount: stored.cumulativeAmount.toString() }, 'voucher redeemed')
    return {
      ...written,
      channelId,
      cumulativeAmount: stored.cumulativeAmount,
      payout: stored.cumulativeAmount - stored.redeemed,
    }
  }

  /** Redeems every unredeemed channel whose requester started a close. */
  async function checkCloses(): Promise<void> {
    for (const stored of await store.list()) {
      if (!running) return
      if (stored.cumulativeAmount <= stored.redeemed) continue
      try {
        const state = await getChannel(reader, {
          paymentChannels: init.paymentChannels,
          channelId: stored.channelId,
        })
        if (state && !state.finalized && state.closesAt !== 0) {
          log.info({ channelId: stored.channelId, closesAt: state.closesAt }, 'channel closing: redeeming')
          await redeem(stored.channelId)
        }
      } catch (error) {
        log.warn({ err: error, channelId: stored.channelId }, 'close watch: redeem failed')
      }
    }
  }

  return {
    models,
    async start() {
      await store.start()
      running = true
      await host.handle(INFER_PROTOCOL, handleStream, {
        maxInboundStreams: options.maxInboundStreams,
        maxOutboundStreams: options.maxInboundStreams,
      })
      if (options.closeWatchIntervalMs > 0) {
        closeWatch = setInterval(() => {
          // one pass at a time; a slow chain must not pile passes up
          watching ??= checkCloses().finally(() => {
            watching = undefined
          })
        }, options.closeWatchIntervalMs)
        closeWatch.unref()
      }
    },
    async stop() {
      running = false
      if (closeWatch) clearInterval(closeWatch)
      await watching
      await host.unhandle(INFER_PROTOCOL).catch(() => {})
      for (const stream of sessions) stream.abort(new Error('provider stopping'))
      await Promise.all([...writes.values()])
      await store.stop()
    },
    latestVoucher(channelId) {
      return store.get(channelId)
    },
    redeem,
    async redeemAll(redeemOptions = {}) {
      const results: RedeemResult[] = []
      for (const stored of await store.list()) {
        if (stored.cumulativeAmount <= stored.redeemed) continue
        try {
          results.push(await redeem(stored.channelId, redeemOptions))
        } catch (error) {
          log.warn({ err: error, channelId: stored.channelId }, 'redeem failed')
        }
      }
      return results
    },
  }
}
