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
import type { ContentHash } from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { ArtifactStore, PutResult } from '../artifacts/store.js'
import type { Logger } from '../core/logger.js'
import { ArtifactFetcher, type FetchArtifactOptions } from './artifact-fetch.js'
import { ArtifactServer } from './artifact-serve.js'
import { definedOnly } from './bid-protocol.js'
import type { OcnHost } from './host.js'
import { createP2PMetrics } from './metrics.js'
import { ARTIFACT_PROTOCOL, defaultStreamProtocolOptions, type StreamProtocolOptions } from './options.js'
import { PeerPenalties } from './peer-penalties.js'
import type { PeerTarget } from './streams.js'
import { defaultUploadSlotOptions, type UploadSlotOptions, UploadSlots } from './upload-slots.js'

export type { FetchArtifactOptions } from './artifact-fetch.js'

export interface ArtifactProtocolInit extends Partial<StreamProtocolOptions> {
  /** uploads served at once by this node; more get status `busy` (uploadSlots.total) */
  maxConcurrentUploads?: number
  /** fair shares of the upload slots (upload-slots.ts) */
  uploadSlots?: Partial<UploadSlotOptions>
}

export interface ArtifactProtocolComponents {
  host: OcnHost
  store: ArtifactStore
  logger: Logger
  registry?: Registry
  /** the node's shared penalty box (createNetwork passes one); a private one when absent */
  penalties?: PeerPenalties
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
  /**
   * Reserves upload capacity for a peer the roles vouch for until `untilMs` (epoch ms): the
   * requester calls it for the provider it awarded, so that provider gets the job's inputs
   * even while strangers hold every other slot. A trusted peer is never refused for stalls.
   */
  trustPeer(peerId: string, untilMs: number): void
  /** ends a trustPeer reservation early (the job ended) */
  untrustPeer(peerId: string): void
  /** uploads running now (diagnostics, tests) */
  uploadUsage(): { uploads: number; untrusted: number; peers: number }
}

export function createArtifactProtocol(
  init: ArtifactProtocolInit,
  components: ArtifactProtocolComponents,
): ArtifactProtocol {
  const options: StreamProtocolOptions = { ...defaultStreamProtocolOptions, ...definedOnly(init) }
  const { host, store } = components
  const log = components.logger.child({ component: 'artifact-protocol' })
  const metrics = createP2PMetrics(components.registry)
  const slots = new UploadSlots({
    ...defaultUploadSlotOptions,
    ...definedOnly(init.uploadSlots ?? {}),
    ...(init.maxConcurrentUploads === undefined ? {} : { total: init.maxConcurrentUploads }),
  })
  const penalties = components.penalties ?? new PeerPenalties()
  const server = new ArtifactServer({ store, options, slots, penalties, log, metrics })
  const fetcher = new ArtifactFetcher({ host, store, options, log, metrics })

  return {
    async start() {
      await host.handle(ARTIFACT_PROTOCOL, server.handleStream, {
        maxInboundStreams: options.maxInboundArtifactStreams,
        maxOutboundStreams: options.maxInboundArtifactStreams,
      })
    },
    async stop() {
      server.abortAll()
      await host.unhandle(ARTIFACT_PROTOCOL).catch(() => {})
    },
    misbehavingPeers: () => fetcher.misbehavingPeers(),
    trustPeer: (peerId, untilMs) => penalties.trust(peerId, untilMs),
    untrustPeer: (peerId) => penalties.untrust(peerId),
    uploadUsage: () => slots.usage(),
    fetch: (hash, peers, fetchOptions) => fetcher.fetch(hash, peers, fetchOptions),
  }
}
