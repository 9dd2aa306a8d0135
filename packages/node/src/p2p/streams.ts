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

/** Serves one request on an inbound stream: read (limited, timed), answer, close. */
export async function serveRequest<Req extends MessageType, Res extends MessageType>(
  stream: Stream,
  connection: Connection,
  requestType: Req,
  responseType: Res,
  timeoutMs: number,
  handler: RequestHandler<Req, Res>,
): Promise<'ok' | P2PError> {
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    const lp = lpFor(stream, requestType)
    const message = await readMessage(lp, requestType, signal)
    const response = await handler(message, {
      remotePeer: connection.remotePeer.toString(),
      connection,
      signal,
    })
    await writeMessage(lp, responseType, response, signal)
    await stream.close({ signal })
    return 'ok'
  } catch (error) {
    const mapped = toP2PError(error, {
      signal,
      peer: connection.remotePeer.toString(),
      what: 'inbound request',
    })
    stream.abort(mapped)
    return mapped
  }
}
