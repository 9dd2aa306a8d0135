/**
 * `/ocn/result-notice/1.0.0`: a provider tells the requester's peer that a result is
 * committed. One-way: one length-prefixed ResultNotice, then the stream closes.
 */
import type { Connection, Stream } from '@libp2p/interface'
import type { ResultNotice } from '@ocn/protocol'
import type { Logger } from '../core/logger.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { OcnHost } from './host.js'
import type { P2PMetrics } from './metrics.js'
import { RESULT_NOTICE_PROTOCOL } from './options.js'
import type { PeerPenalties } from './peer-penalties.js'
import { lpFor, type PeerTarget, readMessage, sendOneMessage, toP2PError } from './streams.js'

/** Called with a notice whose provider peer is the peer that sent it. */
export type ResultNoticeHandler = (
  notice: ResultNotice,
  context: { remotePeer: string },
) => void | Promise<void>

export interface ResultNoticeReceiverContext {
  requestTimeoutMs: number
  log: Logger
  metrics: P2PMetrics
  /** stallers are penalised and refused for a while */
  penalties: PeerPenalties
  /** the handler at the time a notice arrives (it can be replaced while the node runs) */
  handler: () => ResultNoticeHandler | undefined
}

/** A stream handler that reads one notice and hands it on, if its sender is the provider it names. */
export function createResultNoticeReceiver(context: ResultNoticeReceiverContext) {
  const { log, metrics } = context
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const remotePeer = connection.remotePeer.toString()
    if (context.penalties.isRefused(remotePeer)) {
      metrics.streamRefusals.inc({ protocol: RESULT_NOTICE_PROTOCOL, reason: 'penalised' })
      metrics.streamRequests.inc({
        protocol: RESULT_NOTICE_PROTOCOL,
        direction: 'inbound',
        outcome: 'refused',
      })
      stream.abort(new P2PError(P2PErrorCode.REMOTE_REFUSED, 'peer refused for a while after stalling'))
      return
    }
    const signal = AbortSignal.timeout(context.requestTimeoutMs)
    let outcome = 'ok'
    let reading = true
    try {
      const notice = await readMessage(lpFor(stream, 'resultNotice'), 'resultNotice', signal)
      reading = false
      // a notice speaks for the provider peer it names: only that peer may send it
      if (notice.providerPeerId !== remotePeer) {
        throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'result notice names another provider', {
          peer: remotePeer,
        })
      }
      await stream.close({ signal }).catch(() => {})
      await context.handler()?.(notice, { remotePeer })
    } catch (error) {
      const mapped = toP2PError(error, { signal, peer: remotePeer, what: RESULT_NOTICE_PROTOCOL })
      outcome = mapped.code
      stream.abort(mapped)
      // a sender that opens the stream and never sends its notice held a stream for nothing
      if (reading && mapped.code === P2PErrorCode.TIMEOUT) {
        context.penalties.penalise(remotePeer)
        metrics.streamStalls.inc({ protocol: RESULT_NOTICE_PROTOCOL, direction: 'inbound' })
      }
      log.debug({ err: mapped, peer: remotePeer }, 'result notice refused')
    } finally {
      metrics.streamRequests.inc({ protocol: RESULT_NOTICE_PROTOCOL, direction: 'inbound', outcome })
    }
  }
}

export async function sendResultNotice(
  host: OcnHost,
  peer: PeerTarget,
  notice: ResultNotice,
  options: { requestTimeoutMs: number; signal?: AbortSignal | undefined },
): Promise<void> {
  await sendOneMessage(
    host,
    peer,
    RESULT_NOTICE_PROTOCOL,
    { type: 'resultNotice', body: notice },
    { timeoutMs: options.requestTimeoutMs, signal: options.signal },
  )
}
