/**
 * `/ocn/artifact/1.0.0`: streams a content-addressed file.
 *
 * Wire: the client sends one length-prefixed `ArtifactRequest`; the server answers one
 * length-prefixed `ArtifactResponse` (status and size) and, when ok, exactly `size` raw
 * bytes, then closes. Raw bytes after the header (rather than framed chunks) keep the
 * copy path short; the header's size bounds them.
 *
 * The client writes the bytes straight into the artifact store, which hashes them on
 * the way and only keeps them if they match the requested hash. Memory stays bounded:
 * the receiver pauses the stream above a high-water mark (Yamux then withholds window
 * updates, so the sender stops), and the sender waits for drain. A peer whose bytes do
 * not match is remembered and not asked again; the fetch moves on to the next peer.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { type ContentHash, isContentHash, MessageSizeLimit } from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Uint8ArrayList } from 'uint8arraylist'
import { ArtifactStoreError, ArtifactStoreErrorCode } from '../artifacts/errors.js'
import type { ArtifactStore, PutResult } from '../artifacts/store.js'
import { BoundedSet } from '../core/collections.js'
import type { Logger } from '../core/logger.js'
import { deadline } from '../core/time.js'
import { definedOnly } from './bid-protocol.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { OcnHost } from './host.js'
import { createP2PMetrics } from './metrics.js'
import { ARTIFACT_PROTOCOL, defaultStreamProtocolOptions, type StreamProtocolOptions } from './options.js'
import { type PeerTarget, peerLabel, readMessage, toDialTarget, toP2PError, writeMessage } from './streams.js'

export interface ArtifactProtocolInit extends Partial<StreamProtocolOptions> {
  /** uploads served at once by this node; more get status `busy` */
  maxConcurrentUploads?: number
}

export interface ArtifactProtocolComponents {
  host: OcnHost
  store: ArtifactStore
  logger: Logger
  registry?: Registry
}

export interface FetchArtifactOptions {
  signal?: AbortSignal
  /** refuse an artifact announced larger than this */
  maxBytes?: number
}

export interface ArtifactProtocol {
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Gets the artifact into the local store from the first of `peers` that serves the
   * right bytes. Throws P2PError: ARTIFACT_NOT_FOUND when every peer says it has none,
   * ALL_PEERS_FAILED otherwise (each peer's error in `causes`).
   */
  fetch(hash: ContentHash, peers: readonly PeerTarget[], options?: FetchArtifactOptions): Promise<PutResult>
  /** peers caught serving bytes that do not match their hash */
  misbehavingPeers(): string[]
}

/**
 * Yields exactly `size` bytes from the stream, pausing it while more than `highWaterMark`
 * bytes wait to be consumed, and failing when nothing arrives for `idleTimeoutMs`.
 *
 * Listeners are attached at once, not on first iteration: without a 'message' listener
 * the stream buffers everything that arrives while Yamux keeps granting window, which
 * is exactly the unbounded growth this reader exists to prevent.
 */
function readBody(
  stream: Stream,
  size: number,
  options: { signal: AbortSignal; idleTimeoutMs: number; highWaterMark: number },
): AsyncGenerator<Uint8Array> {
  const queue: Uint8Array[] = []
  let queued = 0
  let received = 0
  let ended = false
  let failure: unknown
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const onMessage = (event: { data: Uint8Array | Uint8ArrayList }) => {
    const data = event.data
    const parts = data instanceof Uint8Array ? [data] : [...data]
    for (const part of parts) {
      queue.push(part)
      queued += part.length
    }
    if (queued >= options.highWaterMark) pauseSoon()
    notify()
  }
  // Pause from a microtask, never synchronously inside a 'message' event: resume()
  // dispatches the buffered data first and tells Yamux to resume after, so a pause made
  // inside that dispatch would be undone at once and the window would stay open.
  let pauseQueued = false
  const pauseSoon = () => {
    if (pauseQueued) return
    pauseQueued = true
    queueMicrotask(() => {
      pauseQueued = false
      if (queued >= options.highWaterMark && stream.readStatus === 'readable') stream.pause()
    })
  }
  const onClose = (event: Event) => {
    ended = true
    const error = (event as Event & { error?: Error }).error
    if (error !== undefined) failure = error
    notify()
  }
  const onRemoteCloseWrite = () => {
    ended = true
    notify()
  }
  const onAbort = () => notify()
  stream.addEventListener('message', onMessage)
  stream.addEventListener('close', onClose)
  stream.addEventListener('remoteCloseWrite', onRemoteCloseWrite)
  options.signal.addEventListener('abort', onAbort)

  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      while (received < size) {
        const chunk = queue.shift()
        if (chunk !== undefined) {
          queued -= chunk.length
          received += chunk.length
          if (received > size) {
            throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'peer sent more bytes than it announced')
          }
          if (stream.readStatus === 'paused' && queued < options.highWaterMark / 2) stream.resume()
          yield chunk
          continue
        }
        options.signal.throwIfAborted()
        if (failure !== undefined) throw failure
        if (ended) {
          throw new P2PError(P2PErrorCode.TRUNCATED, 'peer closed the stream early', {
            details: `${received} of ${size} bytes`,
          })
        }
        let timer: NodeJS.Timeout | undefined
        let idle = false
        await new Promise<void>((resolve) => {
          wake = resolve
          timer = setTimeout(() => {
            idle = true
            resolve()
          }, options.idleTimeoutMs)
        })
        clearTimeout(timer)
        if (idle && queue.length === 0 && !ended) {
          throw new P2PError(P2PErrorCode.TIMEOUT, 'artifact transfer stalled', {
            details: `no bytes for ${options.idleTimeoutMs} ms after ${received} of ${size}`,
          })
        }
      }
    } finally {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onClose)
      stream.removeEventListener('remoteCloseWrite', onRemoteCloseWrite)
      options.signal.removeEventListener('abort', onAbort)
    }
  }
  return chunks()
}

/**
 * Waits until the stream's write buffer holds at most `limit` bytes. `send()` returning
 * false and 'drain' are not enough on their own: Yamux emits 'drain' on every window
 * update, however small, so a sender that writes a chunk per 'drain' still fills its
 * write buffer with the whole file when the receiver is slower. Checking the buffer
 * length keeps the sender's memory bounded too.
 */
async function drainBelow(stream: Stream, limit: number, signal: AbortSignal): Promise<void> {
  while (stream.writeBufferLength > limit) {
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        stream.removeEventListener('drain', onProgress)
        stream.removeEventListener('idle', onProgress)
        stream.removeEventListener('close', onClose)
        signal.removeEventListener('abort', onAbort)
      }
      const onProgress = () => {
        cleanup()
        resolve()
      }
      const onClose = () => {
        cleanup()
        reject(new P2PError(P2PErrorCode.TRUNCATED, 'stream closed while sending'))
      }
      const onAbort = () => {
        cleanup()
        reject(signal.reason)
      }
      stream.addEventListener('drain', onProgress)
      stream.addEventListener('idle', onProgress)
      stream.addEventListener('close', onClose)
      signal.addEventListener('abort', onAbort)
    })
  }
}

export function createArtifactProtocol(
  init: ArtifactProtocolInit,
  components: ArtifactProtocolComponents,
): ArtifactProtocol {
  const options: StreamProtocolOptions = { ...defaultStreamProtocolOptions, ...definedOnly(init) }
  const maxUploads = init.maxConcurrentUploads ?? 8
  const { host, store } = components
  const log = components.logger.child({ component: 'artifact-protocol' })
  const metrics = createP2PMetrics(components.registry)
  const misbehaving = new BoundedSet<string>(1024)
  let uploads = 0
  const inFlight = new Set<AbortController>()

  async function handleStream(stream: Stream, connection: Connection): Promise<void> {
    const remotePeer = connection.remotePeer.toString()
    const controller = new AbortController()
    inFlight.add(controller)
    const headerSignal = deadline(controller.signal, options.requestTimeoutMs)
    let outcome = 'ok'
    try {
      const lp = lpStream(stream, { maxDataLength: MessageSizeLimit.artifactRequest })
      const req = await readMessage(lp, 'artifactRequest', headerSignal)
      // the codec already checked 32 bytes; this is the store's own rule, restated at the edge
      if (!isContentHash(req.hash)) throw new P2PError(P2PErrorCode.PROTOCOL_VIOLATION, 'bad artifact name')
      const size = await store.size(req.hash)
      if (size === undefined || uploads >= maxUploads) {
        outcome = size === undefined ? 'not-found' : 'busy'
        await writeMessage(
          lp,
          'artifactResponse',
          { version: 1, status: outcome as 'busy', size: 0 },
          headerSignal,
        )
        await stream.close({ signal: headerSignal })
        return
      }
      uploads++
      try {
        await writeMessage(lp, 'artifactResponse', { version: 1, status: 'ok', size }, headerSignal)
        const raw = lp.unwrap()
        let sent = 0
        for await (const chunk of await store.get(req.hash, { signal: controller.signal })) {
          if (sent + chunk.length > size) break
          raw.send(chunk)
          if (raw.writeBufferLength > options.artifactHighWaterMarkBytes) {
            await drainBelow(
              raw,
              options.artifactHighWaterMarkBytes / 2,
              deadline(controller.signal, options.idleTimeoutMs),
            )
          }
          sent += chunk.length
          metrics.artifactBytes.inc({ direction: 'sent' }, chunk.length)
        }
        await raw.close({ signal: deadline(controller.signal, options.idleTimeoutMs) })
      } finally {
        uploads--
      }
    } catch (error) {
      const mapped =
        error instanceof ArtifactStoreError
          ? new P2PError(P2PErrorCode.REMOTE_REFUSED, 'cannot read artifact', { cause: error })
          : toP2PError(error, { signal: headerSignal, peer: remotePeer, what: ARTIFACT_PROTOCOL })
      outcome = mapped.code
      stream.abort(mapped)
      log.debug({ err: mapped, peer: remotePeer }, 'artifact upload failed')
    } finally {
      inFlight.delete(controller)
      metrics.streamRequests.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'inbound', outcome })
    }
  }

  async function fetchFrom(
    hash: ContentHash,
    peer: PeerTarget,
    fetchOptions: FetchArtifactOptions,
  ): Promise<PutResult> {
    const label = peerLabel(peer)
    const headerSignal = deadline(fetchOptions.signal, options.requestTimeoutMs)
    let stream: Stream
    try {
      stream = await host.dialProtocol(toDialTarget(peer), ARTIFACT_PROTOCOL, { signal: headerSignal })
    } catch (error) {
      const mapped = toP2PError(error, { signal: headerSignal, peer: label, what: ARTIFACT_PROTOCOL })
      throw mapped.code === P2PErrorCode.PROTOCOL_VIOLATION
        ? new P2PError(P2PErrorCode.DIAL_FAILED, 'cannot open an artifact stream', {
            cause: error,
            peer: label,
          })
        : mapped
    }
    const bodySignal = fetchOptions.signal ?? new AbortController().signal
    try {
      const lp = lpStream(stream, { maxDataLength: MessageSizeLimit.artifactResponse })
      await writeMessage(lp, 'artifactRequest', { version: 1, hash }, headerSignal)
      const header = await readMessage(lp, 'artifactResponse', headerSignal)
      if (header.status === 'not-found') {
        throw new P2PError(P2PErrorCode.ARTIFACT_NOT_FOUND, 'peer does not have the artifact', {
          peer: label,
        })
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
      const raw = lp.unwrap()
      const body = readBody(raw, header.size, {
        signal: bodySignal,
        idleTimeoutMs: options.idleTimeoutMs,
        highWaterMark: options.artifactHighWaterMarkBytes,
      })
      const counted = (async function* () {
        for await (const chunk of body) {
          metrics.artifactBytes.inc({ direction: 'received' }, chunk.length)
          yield chunk
        }
      })()
      const result = await store.put(counted, {
        expectedHash: hash,
        maxBytes: header.size,
        ...(fetchOptions.signal === undefined ? {} : { signal: fetchOptions.signal }),
      })
      await raw.close().catch(() => {})
      return result
    } catch (thrown) {
      // the store wraps errors of the byte source; the transfer's own error is the cause
      const error =
        thrown instanceof ArtifactStoreError && thrown.cause instanceof P2PError ? thrown.cause : thrown
      let mapped: P2PError
      if (error instanceof ArtifactStoreError && error.code === ArtifactStoreErrorCode.HASH_MISMATCH) {
        misbehaving.add(label)
        log.warn({ peer: label, hash }, 'peer served bytes that do not match the artifact hash')
        mapped = new P2PError(P2PErrorCode.HASH_MISMATCH, 'peer served wrong bytes', {
          cause: error,
          peer: label,
        })
      } else if (error instanceof ArtifactStoreError) {
        mapped = new P2PError(
          error.code === ArtifactStoreErrorCode.ABORTED ? P2PErrorCode.ABORTED : P2PErrorCode.REMOTE_REFUSED,
          'cannot store artifact',
          { cause: error, peer: label },
        )
      } else {
        mapped = toP2PError(error, {
          signal: fetchOptions.signal ?? headerSignal,
          peer: label,
          what: ARTIFACT_PROTOCOL,
        })
      }
      stream.abort(mapped)
      throw mapped
    }
  }

  return {
    async start() {
      await host.handle(ARTIFACT_PROTOCOL, handleStream, {
        maxInboundStreams: options.maxInboundArtifactStreams,
        maxOutboundStreams: options.maxInboundArtifactStreams,
      })
    },
    async stop() {
      for (const controller of inFlight) controller.abort()
      await host.unhandle(ARTIFACT_PROTOCOL).catch(() => {})
    },
    misbehavingPeers() {
      return [...misbehaving.values()]
    },
    async fetch(hash, peers, fetchOptions = {}) {
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
        if (misbehaving.has(label)) {
          failures.push(
            new P2PError(P2PErrorCode.HASH_MISMATCH, 'peer skipped: it served wrong bytes before', {
              peer: label,
            }),
          )
          continue
        }
        fetchOptions.signal?.throwIfAborted()
        try {
          const result = await fetchFrom(hash, peer, fetchOptions)
          metrics.streamRequests.inc({ protocol: ARTIFACT_PROTOCOL, direction: 'outbound', outcome: 'ok' })
          return result
        } catch (error) {
          const mapped =
            error instanceof P2PError ? error : toP2PError(error, { peer: label, what: ARTIFACT_PROTOCOL })
          metrics.streamRequests.inc({
            protocol: ARTIFACT_PROTOCOL,
            direction: 'outbound',
            outcome: mapped.code,
          })
          if (mapped.code === P2PErrorCode.ABORTED && fetchOptions.signal?.aborted) throw mapped
          failures.push(mapped)
        }
      }
      if (failures.length > 0 && failures.every((f) => f.code === P2PErrorCode.ARTIFACT_NOT_FOUND)) {
        throw new P2PError(P2PErrorCode.ARTIFACT_NOT_FOUND, 'no peer has the artifact', {
          details: `${hash} asked from ${failures.length} peer(s)`,
          causes: failures,
        })
      }
      throw new P2PError(P2PErrorCode.ALL_PEERS_FAILED, 'could not fetch the artifact from any peer', {
        details: `${hash}: ${failures.map((f) => f.code).join(', ') || 'no peers given'}`,
        causes: failures,
      })
    },
  }
}
