/**
 * `/ocn/result/1.0.0`: a requester or verifier asks the provider of a job for some of its
 * result leaves, with Merkle proofs against the committed root and the hash of the full
 * output artifact. The requester side checks every proof before returning, so callers
 * only ever see leaves that belong to the root the provider claims (the caller still
 * compares that root with the one committed on-chain).
 *
 * The provider's answers come from the daemon (`setResultHandler`); without a handler the
 * node answers `not-found`.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { assertResultLeaves, type ResultNotice, type ResultRequest, type ResultResponse } from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.js'
import { definedOnly } from './bid-protocol.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { OcnHost } from './host.js'
import { createP2PMetrics } from './metrics.js'
import {
  defaultStreamProtocolOptions,
  RESULT_NOTICE_PROTOCOL,
  RESULT_PROTOCOL,
  type StreamProtocolOptions,
} from './options.js'
import { PeerPenalties } from './peer-penalties.js'
import {
  createResultNoticeReceiver,
  type ResultNoticeHandler,
  sendResultNotice as sendNotice,
} from './result-notice.js'
import { type PeerTarget, request, serveRequest } from './streams.js'

export type { ResultNoticeHandler } from './result-notice.js'

export type ResultHandler = (
  request: ResultRequest,
  context: { remotePeer: string; signal: AbortSignal },
) => Promise<ResultResponse>

export interface ResultProtocolInit extends Partial<StreamProtocolOptions> {
  onResultRequest?: ResultHandler
  onResultNotice?: ResultNoticeHandler
}

export interface ResultProtocolComponents {
  host: OcnHost
  logger: Logger
  registry?: Registry
  /** the node's shared penalty box: stallers are penalised and refused for a while */
  penalties?: PeerPenalties
}

export interface ResultProtocol {
  start(): Promise<void>
  stop(): Promise<void>
  setResultHandler(handler: ResultHandler | undefined): void
  setResultNoticeHandler(handler: ResultNoticeHandler | undefined): void
  /** tells the requester's peer that a result is committed (one-way, `/ocn/result-notice/1.0.0`) */
  sendResultNotice(peer: PeerTarget, notice: ResultNotice, options?: { signal?: AbortSignal }): Promise<void>
  /** fetches leaves; throws P2PError(PROTOCOL_VIOLATION) if any proof fails */
  requestResult(
    peer: PeerTarget,
    request: ResultRequest,
    options?: { signal?: AbortSignal },
  ): Promise<ResultResponse>
}

/**
 * Checks a response before anyone uses it: it names the job asked about and, when ok, its
 * leaves prove against its root and are only the ones asked for.
 */
function checkResultResponse(req: ResultRequest, response: ResultResponse, peer: PeerTarget): void {
  if (response.jobId !== req.jobId) {
    throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'result response names another job', {
      peer: String(peer),
    })
  }
  if (response.status !== 'ok') return
  try {
    assertResultLeaves(response)
  } catch (cause) {
    throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'result leaves do not match the root', {
      peer: String(peer),
      cause,
    })
  }
  const asked = new Set(req.indices)
  if (response.result?.leaves.some((leaf) => !asked.has(leaf.index))) {
    throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'result response has leaves not asked for', {
      peer: String(peer),
    })
  }
}

export function createResultProtocol(
  init: ResultProtocolInit,
  components: ResultProtocolComponents,
): ResultProtocol {
  const options: StreamProtocolOptions = { ...defaultStreamProtocolOptions, ...definedOnly(init) }
  const { host } = components
  const log = components.logger.child({ component: 'result-protocol' })
  const metrics = createP2PMetrics(components.registry)
  let handler = init.onResultRequest
  let noticeHandler = init.onResultNotice
  const penalties = components.penalties ?? new PeerPenalties()
  const streamLimits = {
    maxInboundStreams: options.maxInboundResultStreams,
    maxOutboundStreams: options.maxInboundResultStreams,
  }

  async function answer(
    req: ResultRequest,
    ctx: { remotePeer: string; signal: AbortSignal },
  ): Promise<ResultResponse> {
    if (handler === undefined) return { version: 1, jobId: req.jobId, status: 'not-found' }
    try {
      return await handler(req, { remotePeer: ctx.remotePeer, signal: ctx.signal })
    } catch (error) {
      log.warn({ err: error }, 'result handler failed')
      return { version: 1, jobId: req.jobId, status: 'not-ready' }
    }
  }

  async function handleStream(stream: Stream, connection: Connection): Promise<void> {
    const outcome = await serveRequest(
      stream,
      connection,
      'resultRequest',
      'resultResponse',
      options.requestTimeoutMs,
      answer,
      { protocol: RESULT_PROTOCOL, penalties, metrics },
    )
    metrics.streamRequests.inc({
      protocol: RESULT_PROTOCOL,
      direction: 'inbound',
      outcome: outcome === 'ok' ? 'ok' : outcome.code,
    })
  }

  const handleNoticeStream = createResultNoticeReceiver({
    requestTimeoutMs: options.requestTimeoutMs,
    log,
    metrics,
    penalties,
    handler: () => noticeHandler,
  })

  return {
    async start() {
      await host.handle(RESULT_PROTOCOL, handleStream, streamLimits)
      await host.handle(RESULT_NOTICE_PROTOCOL, handleNoticeStream, streamLimits)
    },
    async stop() {
      await host.unhandle(RESULT_PROTOCOL).catch(() => {})
      await host.unhandle(RESULT_NOTICE_PROTOCOL).catch(() => {})
    },
    setResultHandler(next) {
      handler = next
    },
    setResultNoticeHandler(next) {
      noticeHandler = next
    },
    async sendResultNotice(peer, notice, callOptions = {}) {
      await sendNotice(host, peer, notice, {
        requestTimeoutMs: options.requestTimeoutMs,
        signal: callOptions.signal,
      })
    },
    async requestResult(peer, req, callOptions = {}) {
      const response = await request(host, peer, RESULT_PROTOCOL, 'resultRequest', req, 'resultResponse', {
        timeoutMs: options.requestTimeoutMs,
        ...(callOptions.signal === undefined ? {} : { signal: callOptions.signal }),
      })
      checkResultResponse(req, response, peer)
      return response
    },
  }
}
