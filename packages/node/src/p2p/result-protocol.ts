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
import { deadline } from '../core/time.js'
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
import {
  lpFor,
  type PeerTarget,
  peerLabel,
  readMessage,
  request,
  serveRequest,
  toDialTarget,
  toP2PError,
  writeMessage,
} from './streams.js'

export type ResultHandler = (
  request: ResultRequest,
  context: { remotePeer: string; signal: AbortSignal },
) => Promise<ResultResponse>

/** Called with a notice whose provider peer is the peer that sent it. */
export type ResultNoticeHandler = (
  notice: ResultNotice,
  context: { remotePeer: string },
) => void | Promise<void>

export interface ResultProtocolInit extends Partial<StreamProtocolOptions> {
  onResultRequest?: ResultHandler
  onResultNotice?: ResultNoticeHandler
}

export interface ResultProtocolComponents {
  host: OcnHost
  logger: Logger
  registry?: Registry
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

  async function handleNoticeStream(stream: Stream, connection: Connection): Promise<void> {
    const remotePeer = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(options.requestTimeoutMs)
    let outcome = 'ok'
    try {
      const notice = await readMessage(lpFor(stream, 'resultNotice'), 'resultNotice', signal)
      // a notice speaks for the provider peer it names: only that peer may send it
      if (notice.providerPeerId !== remotePeer) {
        throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'result notice names another provider', {
          peer: remotePeer,
        })
      }
      await stream.close({ signal }).catch(() => {})
      await noticeHandler?.(notice, { remotePeer })
    } catch (error) {
      const mapped = toP2PError(error, { signal, peer: remotePeer, what: RESULT_NOTICE_PROTOCOL })
      outcome = mapped.code
      stream.abort(mapped)
      log.debug({ err: mapped, peer: remotePeer }, 'result notice refused')
    } finally {
      metrics.streamRequests.inc({ protocol: RESULT_NOTICE_PROTOCOL, direction: 'inbound', outcome })
    }
  }

  async function handleStream(stream: Stream, connection: Connection): Promise<void> {
    const outcome = await serveRequest(
      stream,
      connection,
      'resultRequest',
      'resultResponse',
      options.requestTimeoutMs,
      async (req, ctx) => {
        if (handler === undefined) return { version: 1, jobId: req.jobId, status: 'not-found' }
        try {
          return await handler(req, { remotePeer: ctx.remotePeer, signal: ctx.signal })
        } catch (error) {
          log.warn({ err: error }, 'result handler failed')
          return { version: 1, jobId: req.jobId, status: 'not-ready' }
        }
      },
    )
    metrics.streamRequests.inc({
      protocol: RESULT_PROTOCOL,
      direction: 'inbound',
      outcome: outcome === 'ok' ? 'ok' : outcome.code,
    })
  }

  return {
    async start() {
      await host.handle(RESULT_PROTOCOL, handleStream, {
        maxInboundStreams: options.maxInboundResultStreams,
        maxOutboundStreams: options.maxInboundResultStreams,
      })
      await host.handle(RESULT_NOTICE_PROTOCOL, handleNoticeStream, {
        maxInboundStreams: options.maxInboundResultStreams,
        maxOutboundStreams: options.maxInboundResultStreams,
      })
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
      const signal = deadline(callOptions.signal, options.requestTimeoutMs)
      const label = peerLabel(peer)
      let stream: Stream
      try {
        stream = await host.dialProtocol(toDialTarget(peer), RESULT_NOTICE_PROTOCOL, { signal })
      } catch (error) {
        throw new P2PError(P2PErrorCode.DIAL_FAILED, `${RESULT_NOTICE_PROTOCOL}: cannot open a stream`, {
          cause: error,
          peer: label,
        })
      }
      try {
        await writeMessage(lpFor(stream, 'resultNotice'), 'resultNotice', notice, signal)
        await stream.close({ signal })
      } catch (error) {
        const mapped = toP2PError(error, { signal, peer: label, what: RESULT_NOTICE_PROTOCOL })
        stream.abort(mapped)
        throw mapped
      }
    },
    async requestResult(peer, req, callOptions = {}) {
      const response = await request(host, peer, RESULT_PROTOCOL, 'resultRequest', req, 'resultResponse', {
        timeoutMs: options.requestTimeoutMs,
        ...(callOptions.signal === undefined ? {} : { signal: callOptions.signal }),
      })
      if (response.jobId !== req.jobId) {
        throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'result response names another job', {
          peer: String(peer),
        })
      }
      if (response.status === 'ok') {
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
      return response
    },
  }
}
