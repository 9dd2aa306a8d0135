/**
 * The fetching half of `/ocn/artifact/1.0.0`: asks peers in turn for an artifact and writes
 * the bytes straight into the artifact store, which hashes them on the way and only keeps
 * them if they match the requested hash. A peer whose bytes do not match is remembered and
 * not asked again; the fetch moves on to the next peer.
 */
import type { Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { type ContentHash, isContentHash, MessageSizeLimit } from '@ocn/protocol'
import { ArtifactStoreError, ArtifactStoreErrorCode } from '../artifacts/errors.js'
import type { ArtifactStore, PutResult } from '../artifacts/store.js'
import { BoundedSet } from '../core/collections.js'
import type { Logger } from '../core/logger.js'
import { deadline, sleep } from '../core/time.js'
import { readBody } from './backpressure.js'
import { isP2PError, P2PError, P2PErrorCode } from './errors.js'
import type { OcnHost } from './host.js'
import type { P2PMetrics } from './metrics.js'
import { ARTIFACT_PROTOCOL, type StreamProtocolOptions } from './options.js'
import {
  armedDeadline,
  type PeerTarget,
  peerLabel,
  readMessage,
  toDialTarget,
  toP2PError,
  writeMessage,
} from './streams.js'
import { transferDeadlineMs } from './upload-slots.js'

export interface FetchArtifactOptions {
  signal?: AbortSignal
  /** refuse an artifact announced larger than this */
  maxBytes?: number
  /** bytes received so far of the announced size, after each chunk (a progress bar) */
  onProgress?: (received: number, size: number) => void
  /**
   * how many times a peer that answers `busy` is asked again, after 250 ms, then twice as
   * long each time (default 3: a verifier and three jurors asking one provider at once)
   */
  busyRetries?: number
}

const BUSY_BACKOFF_MS = 250
const DEFAULT_BUSY_RETRIES = 3

export interface ArtifactFetcherContext {
  host: OcnHost
  store: ArtifactStore
  options: StreamProtocolOptions
  log: Logger
  metrics: P2PMetrics
}

/** ARTIFACT_NOT_FOUND when every peer said it has none, ALL_PEERS_FAILED otherwise. */
function noPeerServed(hash: ContentHash, failures: P2PError[]): P2PError {
  if (failures.length > 0 && failures.every((f) => f.code === P2PErrorCode.ARTIFACT_NOT_FOUND)) {
    return new P2PError(P2PErrorCode.ARTIFACT_NOT_FOUND, 'no peer has the artifact', {
      details: `${hash} asked from ${failures.length} peer(s)`,
      causes: failures,
    })
  }
  return new P2PError(P2PErrorCode.ALL_PEERS_FAILED, 'could not fetch the artifact from any peer', {
    details: `${hash}: ${failures.map((f) => f.code).join(', ') || 'no peers given'}`,
    causes: failures,
  })
}

/** the transfer's own error inside the store's wrapper */
function unwrapStoreError(error: unknown): unknown {
  return error instanceof ArtifactStoreError ? error.cause : error
}

export class ArtifactFetcher {
  private readonly misbehaving = new BoundedSet<string>(1024)

  constructor(private readonly context: ArtifactFetcherContext) {}

  /** peers caught serving bytes that do not match their hash */
  misbehavingPeers(): string[] {
    return [...this.misbehaving.values()]
  }

  async fetch(
    hash: ContentHash,
    peers: readonly PeerTarget[],
    fetchOptions: FetchArtifactOptions = {},
  ): Promise<PutResult> {
    const { store } = this.context
    if (!isContentHash(hash)) {
      throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'not a content hash', {
        details: 'expected 0x followed by 64 lowercase hex digits',
      })
    }
    if (await store.has(hash)) {
      return { hash, size: (await store.size(hash)) ?? 0, created: false }
    }
    const failures: P2PError[] = []
    for (const peer of peers) {
      const label = peerLabel(peer)
      if (this.misbehaving.has(label)) {
        failures.push(
          new P2PError(P2PErrorCode.HASH_MISMATCH, 'peer skipped: it served wrong bytes before', {
            peer: label,
          }),
        )
        continue
      }
      fetchOptions.signal?.throwIfAborted()
      const outcome = await this.askPeer(hash, peer, fetchOptions)
      if (!(outcome instanceof P2PError)) return outcome
      failures.push(outcome)
    }
    throw noPeerServed(hash, failures)
  }

  /** `tryPeer`, asked again with a growing pause while the peer answers `busy` */
  private async askPeer(
    hash: ContentHash,
    peer: PeerTarget,
    fetchOptions: FetchArtifactOptions,
  ): Promise<PutResult | P2PError> {
    const retries = fetchOptions.busyRetries ?? DEFAULT_BUSY_RETRIES
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.tryPeer(hash, peer, fetchOptions)
      if (!(outcome instanceof P2PError) || outcome.code !== P2PErrorCode.BUSY || attempt >= retries)
        return outcome
      await sleep(BUSY_BACKOFF_MS * 2 ** attempt, fetchOptions.signal, () => {
        return new P2PError(P2PErrorCode.ABORTED, 'artifact fetch aborted', { peer: peerLabel(peer) })
      })
    }
  }

  /** the artifact from one peer, or that peer's error; throws only when the caller aborted */
  private async tryPeer(
    hash: ContentHash,
    peer: PeerTarget,
    fetchOptions: FetchArtifactOptions,
  ): Promise<PutResult | P2PError> {
    const { metrics } = this.context
    try {
      const result = await this.fetchFrom(hash, peer, fetchOptions)
      metrics.streamRequests.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'outbound', outcome: 'ok' })
      return result
    } catch (error) {
      const mapped =
        error instanceof P2PError
          ? error
          : toP2PError(error, { peer: peerLabel(peer), what: ARTIFACT_PROTOCOL })
      metrics.streamRequests.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'outbound', outcome: mapped.code })
      if (mapped.code === P2PErrorCode.ABORTED && fetchOptions.signal?.aborted) throw mapped
      return mapped
    }
  }

  private async fetchFrom(
    hash: ContentHash,
    peer: PeerTarget,
    fetchOptions: FetchArtifactOptions,
  ): Promise<PutResult> {
    const label = peerLabel(peer)
    const headerSignal = deadline(fetchOptions.signal, this.context.options.requestTimeoutMs)
    const stream = await this.open(peer, label, headerSignal)
    try {
      const lp = lpStream(stream, { maxDataLength: MessageSizeLimit.artifactResponse })
      await writeMessage(lp, 'artifactRequest', { version: 1, hash }, headerSignal)
      const size = await this.readHeader(lp, label, headerSignal, fetchOptions)
      const raw = lp.unwrap()
      const result = await this.receive(raw, hash, size, fetchOptions)
      await raw.close().catch(() => {})
      return result
    } catch (thrown) {
      const mapped = this.mapFailure(thrown, hash, label, fetchOptions.signal ?? headerSignal)
      stream.abort(mapped)
      throw mapped
    }
  }

  private async open(peer: PeerTarget, label: string, signal: AbortSignal): Promise<Stream> {
    try {
      return await this.context.host.dialProtocol(toDialTarget(peer), ARTIFACT_PROTOCOL, { signal })
    } catch (error) {
      const mapped = toP2PError(error, { signal, peer: label, what: ARTIFACT_PROTOCOL })
      throw mapped.code === P2PErrorCode.PROTOCOL_VIOLATION
        ? new P2PError(P2PErrorCode.DIAL_FAILED, 'cannot open an artifact stream', {
            cause: error,
            peer: label,
          })
        : mapped
    }
  }

  /** the announced size, once the header says ok and the size is within the limit */
  private async readHeader(
    lp: LengthPrefixedStream<Stream>,
    label: string,
    signal: AbortSignal,
    fetchOptions: FetchArtifactOptions,
  ): Promise<number> {
    const { options } = this.context
    const header = await readMessage(lp, 'artifactResponse', signal)
    if (header.status === 'not-found') {
      throw new P2PError(P2PErrorCode.ARTIFACT_NOT_FOUND, 'peer does not have the artifact', { peer: label })
    }
    if (header.status === 'busy') {
      throw new P2PError(P2PErrorCode.BUSY, 'peer is serving as many as it can', { peer: label })
    }
    if (header.status !== 'ok') {
      throw new P2PError(P2PErrorCode.REMOTE_REFUSED, `peer answered ${header.status}`, { peer: label })
    }
    const limit = Math.min(fetchOptions.maxBytes ?? options.maxArtifactBytes, options.maxArtifactBytes)
    if (header.size > limit) {
      throw new P2PError(P2PErrorCode.TOO_LARGE, 'artifact larger than allowed', {
        peer: label,
        details: `${header.size} > ${limit} bytes`,
      })
    }
    return header.size
  }

  /** streams the raw body into the store, which checks it against `hash` */
  private async receive(
    raw: Stream,
    hash: ContentHash,
    size: number,
    fetchOptions: FetchArtifactOptions,
  ): Promise<PutResult> {
    const { options, metrics, store } = this.context
    // a server slower than the minimum rate is as good as stalled: the next peer is asked
    const total = armedDeadline(fetchOptions.signal, transferDeadlineMs(size, options))
    const body = readBody(raw, size, {
      signal: total.signal,
      idleTimeoutMs: options.idleTimeoutMs,
      highWaterMark: options.artifactHighWaterMarkBytes,
    })
    const onProgress = fetchOptions.onProgress
    const counted = (async function* () {
      let received = 0
      onProgress?.(0, size)
      for await (const chunk of body) {
        metrics.artifactBytes.inc({ direction: 'received' }, chunk.length)
        received += chunk.length
        onProgress?.(received, size)
        yield chunk
      }
    })()
    try {
      return await store.put(counted, {
        expectedHash: hash,
        maxBytes: size,
        ...(fetchOptions.signal === undefined ? {} : { signal: fetchOptions.signal }),
      })
    } catch (error) {
      if (total.signal.aborted && !fetchOptions.signal?.aborted) {
        metrics.streamStalls.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'outbound' })
        throw new P2PError(P2PErrorCode.TIMEOUT, 'artifact transfer too slow', {
          cause: error,
          details: `${size} bytes not done in ${transferDeadlineMs(size, options)} ms`,
        })
      }
      if (isP2PError(unwrapStoreError(error), P2PErrorCode.TIMEOUT)) {
        metrics.streamStalls.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'outbound' })
      }
      throw error
    } finally {
      total.clear()
    }
  }

  private mapFailure(thrown: unknown, hash: ContentHash, label: string, signal: AbortSignal): P2PError {
    // the store wraps errors of the byte source; the transfer's own error is the cause
    const error =
      thrown instanceof ArtifactStoreError && thrown.cause instanceof P2PError ? thrown.cause : thrown
    if (error instanceof ArtifactStoreError && error.code === ArtifactStoreErrorCode.HASH_MISMATCH) {
      this.misbehaving.add(label)
      this.context.log.warn({ peer: label, hash }, 'peer served bytes that do not match the artifact hash')
      return new P2PError(P2PErrorCode.HASH_MISMATCH, 'peer served wrong bytes', {
        cause: error,
        peer: label,
      })
    }
    if (error instanceof ArtifactStoreError) {
      return new P2PError(
        error.code === ArtifactStoreErrorCode.ABORTED ? P2PErrorCode.ABORTED : P2PErrorCode.REMOTE_REFUSED,
        'cannot store artifact',
        { cause: error, peer: label },
      )
    }
    return toP2PError(error, { signal, peer: label, what: ARTIFACT_PROTOCOL })
  }
}
