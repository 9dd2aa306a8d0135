/**
 * The serving half of `/ocn/artifact/1.0.0`: answers one ArtifactRequest with a header
 * (status and size) and, when ok, exactly `size` raw bytes from the artifact store.
 *
 * Every upload is bounded (issue 13: eight readers that never read held every slot for
 * 80-100 s): it holds a fair-share slot (upload-slots.ts), it ends when the reader makes no
 * progress for `idleTimeoutMs` or when its total deadline (header time plus size at
 * `minTransferBytesPerSecond`) passes, and a peer cut off for stalling is penalised: its
 * gossip score drops and its requests are refused for a while (peer-penalties.ts).
 */
import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { type ContentHash, isContentHash, MessageSizeLimit } from '@ocn/protocol'
import { ArtifactStoreError } from '../artifacts/errors.js'
import type { ArtifactStore } from '../artifacts/store.js'
import type { Logger } from '../core/logger.js'
import { drainBelow } from './backpressure.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { P2PMetrics } from './metrics.js'
import { ARTIFACT_PROTOCOL, type StreamProtocolOptions } from './options.js'
import type { PeerPenalties } from './peer-penalties.js'
import { armedDeadline, readMessage, toP2PError, writeMessage } from './streams.js'
import { transferDeadlineMs, type UploadSlots } from './upload-slots.js'

export interface ArtifactServerContext {
  store: ArtifactStore
  options: StreamProtocolOptions
  slots: UploadSlots
  penalties: PeerPenalties
  log: Logger
  metrics: P2PMetrics
}

export class ArtifactServer {
  private readonly inFlight = new Set<AbortController>()

  constructor(private readonly context: ArtifactServerContext) {}

  /** the stream handler to register for ARTIFACT_PROTOCOL */
  readonly handleStream = async (stream: Stream, connection: Connection): Promise<void> => {
    const { options, log, metrics, penalties } = this.context
    const remotePeer = connection.remotePeer.toString()
    if (penalties.isRefused(remotePeer)) {
      metrics.streamRefusals.inc({ protocol: ARTIFACT_PROTOCOL, reason: 'penalised' })
      metrics.streamRequests.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'inbound', outcome: 'refused' })
      stream.abort(new P2PError(P2PErrorCode.REMOTE_REFUSED, 'peer refused for a while after stalling'))
      return
    }
    const controller = new AbortController()
    this.inFlight.add(controller)
    // the deadline of the phase running now (header, then the whole transfer): when it has
    // fired, whatever the stream threw is a timeout
    const header = armedDeadline(controller.signal, options.requestTimeoutMs)
    const phase = { signal: header.signal }
    let outcome = 'ok'
    try {
      outcome = await this.answer(stream, remotePeer, controller.signal, phase)
    } catch (error) {
      const mapped =
        error instanceof ArtifactStoreError
          ? new P2PError(P2PErrorCode.REMOTE_REFUSED, 'cannot read artifact', { cause: error })
          : toP2PError(error, { signal: phase.signal, peer: remotePeer, what: ARTIFACT_PROTOCOL })
      outcome = mapped.code
      stream.abort(mapped)
      if (mapped.code === P2PErrorCode.TIMEOUT && !controller.signal.aborted) this.stalled(remotePeer, mapped)
      else log.debug({ err: mapped, peer: remotePeer }, 'artifact upload failed')
    } finally {
      header.clear()
      this.inFlight.delete(controller)
      metrics.streamRequests.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'inbound', outcome })
    }
  }

  /** aborts every upload in progress */
  abortAll(): void {
    for (const controller of this.inFlight) controller.abort()
  }

  /** a reader that did not ask, or did not read, in time: penalised and refused for a while */
  private stalled(peer: string, error: P2PError): void {
    const { penalties, metrics, log } = this.context
    penalties.penalise(peer)
    metrics.streamStalls.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'inbound' })
    log.info({ peer, reason: error.details ?? error.shortMessage }, 'artifact reader stalled: peer penalised')
  }

  /** reads the request and answers it; returns the outcome label */
  private async answer(
    stream: Stream,
    remotePeer: string,
    signal: AbortSignal,
    phase: { signal: AbortSignal },
  ): Promise<string> {
    const { store, slots, penalties, metrics, options } = this.context
    const headerSignal = phase.signal
    const lp = lpStream(stream, { maxDataLength: MessageSizeLimit.artifactRequest })
    const req = await readMessage(lp, 'artifactRequest', headerSignal)
    // the codec already checked 32 bytes; this is the store's own rule, restated at the edge
    if (!isContentHash(req.hash)) throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'bad artifact name')
    const size = await store.size(req.hash)
    const slot = size === undefined ? 'not-found' : slots.acquire(remotePeer, penalties.isTrusted(remotePeer))
    if (size === undefined || typeof slot === 'string') {
      if (slot === 'busy' || slot === 'peer-share') {
        metrics.streamRefusals.inc({ protocol: ARTIFACT_PROTOCOL, reason: slot })
      }
      // a full peer share is still `busy` on the wire: the reader tries again later
      const status = size === undefined ? 'not-found' : 'busy'
      await writeMessage(lp, 'artifactResponse', { version: 1, status, size: 0 }, headerSignal)
      await stream.close({ signal: headerSignal })
      return typeof slot === 'string' ? slot : status
    }
    const total = armedDeadline(signal, transferDeadlineMs(size, options))
    try {
      phase.signal = total.signal
      await writeMessage(lp, 'artifactResponse', { version: 1, status: 'ok', size }, total.signal)
      await this.sendBody(lp, req.hash, size, total.signal)
    } finally {
      total.clear()
      slot.release()
    }
    return 'ok'
  }

  /** writes the artifact's bytes raw after the header, waiting for drain above the high-water mark */
  private async sendBody(
    lp: LengthPrefixedStream<Stream>,
    hash: ContentHash,
    size: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { store, options, metrics } = this.context
    const raw = lp.unwrap()
    let sent = 0
    for await (const chunk of await store.get(hash, { signal })) {
      signal.throwIfAborted()
      if (sent + chunk.length > size) break
      raw.send(chunk)
      if (raw.writeBufferLength > options.artifactHighWaterMarkBytes) {
        await untilIdle(signal, options.idleTimeoutMs, (idle) =>
          drainBelow(raw, options.artifactHighWaterMarkBytes / 2, idle),
        )
      }
      sent += chunk.length
      metrics.artifactBytes.inc({ direction: 'sent' }, chunk.length)
    }
    await untilIdle(signal, options.idleTimeoutMs, (idle) => raw.close({ signal: idle }))
  }
}

/** runs `work` with an idle deadline; a fired idle deadline is the reader stalling (TIMEOUT) */
async function untilIdle(
  signal: AbortSignal,
  idleTimeoutMs: number,
  work: (idle: AbortSignal) => Promise<void>,
): Promise<void> {
  const idle = armedDeadline(signal, idleTimeoutMs)
  try {
    await work(idle.signal)
  } catch (error) {
    if (idle.signal.aborted && !signal.aborted) {
      throw new P2PError(P2PErrorCode.TIMEOUT, 'artifact reader stalled', {
        cause: error,
        details: `the reader took nothing for ${idleTimeoutMs} ms`,
      })
    }
    throw error
  } finally {
    idle.clear()
  }
}
