/**
 * Provider side of paid inference: serves `/ocn/infer/1.0.0` sessions. Every request carries
 * a voucher for the cumulative amount the requester owes; the provider accepts it only if
 * it is newer than the last one by at least the price, stays within the deposit, and is
 * signed by the channel's requester, then persists it, runs the model and answers. No
 * transaction per request: the provider redeems the latest voucher once, when it chooses.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { ProtocolReadClient, ProtocolWalletClient } from '@ocn/contracts-client'
import type { ChannelsDomain } from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Address, Hex } from 'viem'
import type { Logger } from '../core/logger.js'
import { type Executor, modelHash as hashModel } from '../executor/executor.js'
import type { OcnHost } from '../p2p/host.js'
import { createInferenceService, type ServedModel } from './inference.js'
import { type ChannelMetrics, createChannelMetrics } from './metrics.js'
import { type ChannelServerOptions, defaultChannelServerOptions, INFER_PROTOCOL } from './options.js'
import { createSettlement, type RedeemOptions, type RedeemResult } from './settlement.js'
import { createVoucherAcceptance } from './voucher-acceptance.js'
import type { StoredVoucher, VoucherStore } from './voucher-store.js'
import { encodeInferResponse, type InferResponse } from './wire.js'

export type { ServedModel } from './inference.js'
export type { RedeemOptions, RedeemResult } from './settlement.js'

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

interface SessionInit {
  serve: (frame: Uint8Array) => Promise<InferResponse>
  options: Pick<ChannelServerOptions, 'maxRequestBytes' | 'idleTimeoutMs'>
  metrics: ChannelMetrics
  log: Logger
  running: () => boolean
}

/** One session stream: length-prefixed request frames in, one answer frame out for each. */
async function serveSession(stream: Stream, connection: Connection, init: SessionInit): Promise<void> {
  const { options } = init
  const lp = lpStream(stream, { maxDataLength: options.maxRequestBytes })
  try {
    while (init.running()) {
      let frame: Uint8Array
      try {
        frame = (await lp.read({ signal: AbortSignal.timeout(options.idleTimeoutMs) })).subarray()
      } catch (error) {
        // the client closed its side: the session is over
        if ((error as { name?: string }).name === 'UnexpectedEOFError') break
        throw error
      }
      const response = await init.serve(frame)
      init.metrics.requests.inc({ outcome: response.ok ? 'ok' : response.code })
      await lp.write(encodeInferResponse(response), { signal: AbortSignal.timeout(options.idleTimeoutMs) })
    }
    await stream.close().catch(() => {})
  } catch (error) {
    init.log.debug({ err: error, peer: connection.remotePeer.toString() }, 'infer session failed')
    stream.abort(error instanceof Error ? error : new Error(String(error)))
  }
}

export function createChannelServer(
  init: ChannelServerInit,
  components: ChannelServerComponents,
): ChannelServer {
  const options: ChannelServerOptions = { ...defaultChannelServerOptions, ...init.options }
  const { host, wallet, store } = components
  const reader = components.reader ?? wallet
  const log = components.logger.child({ component: 'channel-server' })
  const metrics = createChannelMetrics(components.registry)
  const models = new Map<Hex, ServedModel>(init.models.map((m) => [hashModel(m.model), m]))
  const vouchers = createVoucherAcceptance({
    reader,
    paymentChannels: init.paymentChannels,
    domain: init.domain,
    provider: wallet.account.address,
    store,
    options,
    metrics,
    log,
  })
  const serve = createInferenceService({ models, executor: components.executor, vouchers, options, log })
  const settlement = createSettlement({
    wallet,
    reader,
    paymentChannels: init.paymentChannels,
    store,
    vouchers,
    log,
  })
  const sessions = new Set<Stream>()
  let running = false
  let closeWatch: ReturnType<typeof setInterval> | undefined
  let watching: Promise<void> | undefined
  const session: SessionInit = { serve, options, metrics, log, running: () => running }

  async function handleStream(stream: Stream, connection: Connection): Promise<void> {
    sessions.add(stream)
    try {
      await serveSession(stream, connection, session)
    } finally {
      sessions.delete(stream)
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
          watching ??= settlement
            .redeemClosing(() => running)
            .finally(() => {
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
      await vouchers.allWritten()
      await store.stop()
    },
    latestVoucher(channelId) {
      return store.get(channelId)
    },
    redeem: settlement.redeem,
    redeemAll: settlement.redeemAll,
  }
}
