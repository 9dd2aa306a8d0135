/**
 * Request-response plumbing shared by the stream protocols: length-prefixed frames
 * (lpStream) with a per-type size limit, a deadline on every wait, and one mapping from
 * whatever went wrong to a typed `P2PError`.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import {
  decodeMessage,
  encodeMessage,
  MessageSizeLimit,
  type MessageType,
  type MessageTypes,
  ProtocolError,
} from '@ocn/protocol'
import { deadline } from '../core/time.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { OcnHost } from './host.js'
import type { P2PMetrics } from './metrics.js'
import type { PeerPenalties } from './peer-penalties.js'

export type PeerTarget = PeerId | Multiaddr | string

export function toDialTarget(peer: PeerTarget): PeerId | Multiaddr {
  if (typeof peer !== 'string') return peer
  try {
    return peerIdFromString(peer)
  } catch (cause) {
    throw new P2PError(P2PErrorCode.DIAL_FAILED, 'not a peer id', { cause, details: peer.slice(0, 80) })
  }
}

export function peerLabel(peer: PeerTarget): string {
  return typeof peer === 'string' ? peer : peer.toString()
}

/** Maps any failure during a stream exchange to a P2PError with a stable code. */
export function toP2PError(
  error: unknown,
  context: { signal?: AbortSignal; peer?: string; what: string },
): P2PError {
  if (error instanceof P2PError) return error
  const peer = context.peer === undefined ? {} : { peer: context.peer }
  if (context.signal?.aborted) {
    const reason = context.signal.reason as { name?: string } | undefined
    if (reason?.name === 'TimeoutError') {
      return new P2PError(P2PErrorCode.TIMEOUT, `${context.what}: timed out`, { cause: error, ...peer })
    }
    return new P2PError(P2PErrorCode.ABORTED, `${context.what}: aborted`, { cause: error, ...peer })
  }
  if (error instanceof ProtocolError) {
    const code = error.code === 'MESSAGE_TOO_LARGE' ? P2PErrorCode.TOO_LARGE : P2PErrorCode.PROTOCOL_VIOLATION
    return new P2PError(code, `${context.what}: invalid message from peer`, { cause: error, ...peer })
  }
  const name = (error as { name?: string } | undefined)?.name
  // an inner deadline (idle, total) fired while the caller's own signal still runs
  if (name === 'TimeoutError') {
    return new P2PError(P2PErrorCode.TIMEOUT, `${context.what}: timed out`, { cause: error, ...peer })
  }
  if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
    return new P2PError(P2PErrorCode.TOO_LARGE, `${context.what}: message over the size limit`, {
      cause: error,
      ...peer,
    })
  }
  if (name === 'UnexpectedEOFError') {
    return new P2PError(P2PErrorCode.TRUNCATED, `${context.what}: stream closed early`, {
      cause: error,
      ...peer,
    })
  }
  return new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, `${context.what}: stream failed`, {
    cause: error,
    ...peer,
  })
}

export function lpFor(stream: Stream, type: MessageType): LengthPrefixedStream<Stream> {
  return lpStream(stream, { maxDataLength: MessageSizeLimit[type] })
}

export async function readMessage<T extends MessageType>(
  lp: LengthPrefixedStream<Stream>,
  type: T,
  signal: AbortSignal,
): Promise<MessageTypes[T]> {
  const frame = await lp.read({ signal })
  return decodeMessage(type, frame.subarray())
}

export async function writeMessage<T extends MessageType>(
  lp: LengthPrefixedStream<Stream>,
  type: T,
  message: MessageTypes[T],
  signal: AbortSignal,
): Promise<void> {
  await lp.write(encodeMessage(type, message), { signal })
}

/**
 * A one-way protocol's send: dial `protocol`, write one length-prefixed `type` message, close.
 * Failures come back as P2PError (DIAL_FAILED when no stream opened); the outcome is returned
 * for the caller's metrics ('ok' or the error code) before a failure is rethrown.
 *
 * `untilTaken`: also wait (within the same timeout) until the receiver closes its end. A
 * receiver that closes only once its handler took the message, and resets the stream when it
 * refuses it, so tells the sender the message was taken; a receiver that closes at once ends
 * the wait at once, as before.
 */
export async function sendOneMessage<T extends MessageType>(
  host: OcnHost,
  peer: PeerTarget,
  protocol: string,
  message: { type: T; body: MessageTypes[T] },
  options: {
    timeoutMs: number
    signal?: AbortSignal | undefined
    onOutcome?: (outcome: string) => void
    untilTaken?: boolean
  },
): Promise<void> {
  const signal = deadline(options.signal, options.timeoutMs)
  const label = peerLabel(peer)
  let stream: Stream
  try {
    stream = await host.dialProtocol(toDialTarget(peer), protocol, { signal })
  } catch (error) {
    throw new P2PError(P2PErrorCode.DIAL_FAILED, `${protocol}: cannot open a stream`, {
      cause: error,
      peer: label,
    })
  }
  try {
    await writeMessage(lpFor(stream, message.type), message.type, message.body, signal)
    await stream.close({ signal })
    if (options.untilTaken === true) await untilRemoteCloses(stream, signal)
    options.onOutcome?.('ok')
  } catch (error) {
    const mapped = toP2PError(error, { signal, peer: label, what: protocol })
    stream.abort(mapped)
    options.onOutcome?.(mapped.code)
    throw mapped
  }
}

/**
 * Resolves when the remote end closes its writable side (the stream's readable end ends);
 * rejects when the remote resets the stream or `signal` aborts first. Anything the remote
 * writes meanwhile is discarded: a one-way protocol's receiver has nothing to say.
 */
async function untilRemoteCloses(stream: Stream, signal: AbortSignal): Promise<void> {
  const onAbort = () => stream.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
  if (signal.aborted) onAbort()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const _chunk of stream) {
      // discarded
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * A deadline kept alive by its own timer, linked to `parent`. Long transfers use it instead of
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: a composite signal holds its sources
 * weakly, and a timeout signal collected before it fires never aborts anything, which left an
 * upload of a stalled reader holding its slot for good. Call `clear()` once the work is done.
 */
export function armedDeadline(
  parent: AbortSignal | undefined,
  ms: number,
): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController()
  const onParentAbort = () => controller.abort(parent?.reason)
  const timer = setTimeout(
    () => controller.abort(new DOMException(`deadline of ${ms} ms passed`, 'TimeoutError')),
    ms,
  )
  if (parent?.aborted) onParentAbort()
  else parent?.addEventListener('abort', onParentAbort, { once: true })
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onParentAbort)
    },
  }
}

export interface RequestOptions {
  signal?: AbortSignal
  timeoutMs: number
}

/** One request, one response, then the stream is closed. */
export async function request<Req extends MessageType, Res extends MessageType>(
  host: OcnHost,
  peer: PeerTarget,
  protocol: string,
  requestType: Req,
  message: MessageTypes[Req],
  responseType: Res,
  options: RequestOptions,
): Promise<MessageTypes[Res]> {
  const signal = deadline(options.signal, options.timeoutMs)
  const label = peerLabel(peer)
  let stream: Stream
  try {
    stream = await host.dialProtocol(toDialTarget(peer), protocol, { signal })
  } catch (error) {
    const mapped = toP2PError(error, { signal, peer: label, what: protocol })
    if (mapped.code === P2PErrorCode.PROTOCOL_VIOLATION) {
      throw new P2PError(P2PErrorCode.DIAL_FAILED, `${protocol}: cannot open a stream`, {
        cause: error,
        peer: label,
      })
    }
    throw mapped
  }
  try {
    const lp = lpStream(stream, { maxDataLength: MessageSizeLimit[responseType] })
    await writeMessage(lp, requestType, message, signal)
    const response = await readMessage(lp, responseType, signal)
    await stream.close({ signal }).catch(() => {})
    return response
  } catch (error) {
    const mapped = toP2PError(error, { signal, peer: label, what: protocol })
    stream.abort(mapped)
    throw mapped
  }
}

export type RequestHandler<Req extends MessageType, Res extends MessageType> = (
  message: MessageTypes[Req],
  context: { remotePeer: string; connection: Connection; signal: AbortSignal },
) => Promise<MessageTypes[Res]>

/**
 * What an inbound request protocol does about misbehaving peers: refuse a penalised peer at
 * once, and penalise one that stalls (does not send its request, or does not take our answer,
 * before the deadline). Time our own handler spends is never held against the peer.
 */
export interface StreamGuard {
  protocol: string
  penalties: PeerPenalties
  metrics: P2PMetrics
}

/** Serves one request on an inbound stream: read (limited, timed), answer, close. */
export async function serveRequest<Req extends MessageType, Res extends MessageType>(
  stream: Stream,
  connection: Connection,
  requestType: Req,
  responseType: Res,
  timeoutMs: number,
  handler: RequestHandler<Req, Res>,
  guard?: StreamGuard,
): Promise<'ok' | P2PError> {
  const remotePeer = connection.remotePeer.toString()
  if (guard?.penalties.isRefused(remotePeer)) {
    guard.metrics.streamRefusals.inc({ protocol: guard.protocol, reason: 'penalised' })
    const refused = new P2PError(P2PErrorCode.REMOTE_REFUSED, 'peer refused for a while after stalling', {
      peer: remotePeer,
    })
    stream.abort(refused)
    return refused
  }
  const signal = AbortSignal.timeout(timeoutMs)
  let phase: 'read' | 'handle' | 'write' = 'read'
  try {
    const lp = lpFor(stream, requestType)
    const message = await readMessage(lp, requestType, signal)
    phase = 'handle'
    const response = await handler(message, { remotePeer, connection, signal })
    phase = 'write'
    await writeMessage(lp, responseType, response, signal)
    await stream.close({ signal })
    return 'ok'
  } catch (error) {
    const mapped = toP2PError(error, { signal, peer: remotePeer, what: 'inbound request' })
    stream.abort(mapped)
    if (guard !== undefined && mapped.code === P2PErrorCode.TIMEOUT && phase !== 'handle') {
      guard.penalties.penalise(remotePeer)
      guard.metrics.streamStalls.inc({ protocol: guard.protocol, direction: 'inbound' })
    }
    return mapped
  }
}
