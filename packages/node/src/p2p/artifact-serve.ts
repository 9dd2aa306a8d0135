/**
 * The serving half of `/ocn/artifact/1.0.0`: answers one ArtifactRequest with a header
 * (status and size) and, when ok, exactly `size` raw bytes from the artifact store, at most
 * `maxUploads` at a time (more get status `busy`).
 */
import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { type ContentHash, isContentHash, MessageSizeLimit } from '@ocn/protocol'
import { ArtifactStoreError } from '../artifacts/errors.js'
import type { ArtifactStore } from '../artifacts/store.js'
import type { Logger } from '../core/logger.js'
import { deadline } from '../core/time.js'
import { drainBelow } from './backpressure.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { P2PMetrics } from './metrics.js'
import { ARTIFACT_PROTOCOL, type StreamProtocolOptions } from './options.js'
import { readMessage, toP2PError, writeMessage } from './streams.js'

export interface ArtifactServerContext {
  store: ArtifactStore
  options: StreamProtocolOptions
  maxUploads: number
  log: Logger
  metrics: P2PMetrics
}

export class ArtifactServer {
  private uploads = 0
  private readonly inFlight = new Set<AbortController>()

  constructor(private readonly context: ArtifactServerContext) {}

  /** the stream handler to register for ARTIFACT_PROTOCOL */
  readonly handleStream = async (stream: Stream, connection: Connection): Promise<void> => {
    const { options, log, metrics } = this.context
    const remotePeer = connection.remotePeer.toString()
    const controller = new AbortController()
    this.inFlight.add(controller)
    const headerSignal = deadline(controller.signal, options.requestTimeoutMs)
    let outcome = 'ok'
    try {
      outcome = await this.answer(stream, controller.signal, headerSignal)
    } catch (error) {
      const mapped =
        error instanceof ArtifactStoreError
          ? new P2PError(P2PErrorCode.REMOTE_REFUSED, 'cannot read artifact', { cause: error })
          : toP2PError(error, { signal: headerSignal, peer: remotePeer, what: ARTIFACT_PROTOCOL })
      outcome = mapped.code
      stream.abort(mapped)
      log.debug({ err: mapped, peer: remotePeer }, 'artifact upload failed')
    } finally {
      this.inFlight.delete(controller)
      metrics.streamRequests.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'inbound', outcome })
    }
  }

  /** aborts every upload in progress */
  abortAll(): void {
    for (const controller of this.inFlight) controller.abort()
  }

  /** reads the request and answers it; returns the outcome label */
  private async answer(stream: Stream, signal: AbortSignal, headerSignal: AbortSignal): Promise<string> {
    const { store, maxUploads } = this.context
    const lp = lpStream(stream, { maxDataLength: MessageSizeLimit.artifactRequest })
    const req = await readMessage(lp, 'artifactRequest', headerSignal)
    // the codec already checked 32 bytes; this is the store's own rule, restated at the edge
    if (!isContentHash(req.hash)) throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'bad artifact name')
    const size = await store.size(req.hash)
    if (size === undefined || this.uploads >= maxUploads) {
      const status = size === undefined ? 'not-found' : 'busy'
      await writeMessage(lp, 'artifactResponse', { version: 1, status, size: 0 }, headerSignal)
      await stream.close({ signal: headerSignal })
      return status
    }
    this.uploads++
    try {
      await writeMessage(lp, 'artifactResponse', { version: 1, status: 'ok', size }, headerSignal)
      await this.sendBody(lp, req.hash, size, signal)
    } finally {
      this.uploads--
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
      if (sent + chunk.length > size) break
      raw.send(chunk)
      if (raw.writeBufferLength > options.artifactHighWaterMarkBytes) {
        await drainBelow(raw, options.artifactHighWaterMarkBytes / 2, deadline(signal, options.idleTimeoutMs))
      }
      sent += chunk.length
      metrics.artifactBytes.inc({ direction: 'sent' }, chunk.length)
    }
    await raw.close({ signal: deadline(signal, options.idleTimeoutMs) })
  }
}
