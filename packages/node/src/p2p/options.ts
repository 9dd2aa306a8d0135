/**
 * Knobs of the p2p layer, with the defaults we run. docs/network.md explains the numbers.
 */

export const OFFERS_TOPIC = '/ocn/offers/1'
export const CAPABILITIES_TOPIC = '/ocn/capabilities/1'
export const BID_PROTOCOL = '/ocn/bid/1.0.0'
export const ARTIFACT_PROTOCOL = '/ocn/artifact/1.0.0'
export const RESULT_PROTOCOL = '/ocn/result/1.0.0'
/** one-way: a provider tells the requester its result is committed */
export const RESULT_NOTICE_PROTOCOL = '/ocn/result-notice/1.0.0'
/** one-way: a provider pushes a generate job's tokens to the requester while it decodes */
export const TOKEN_PROTOCOL = '/ocn/tokens/1.0.0'
export const DHT_PROTOCOL = '/ocn/kad/1.0.0'

export interface HostOptions {
  /** multiaddrs to listen on */
  listen: string[]
  /** multiaddrs peers are told to dial instead of `listen` (a relay in front); empty: `listen` */
  announce: string[]
  /** multiaddrs (with /p2p/<id>) dialled on start */
  bootstrap: string[]
  /** discover peers on the LAN by mDNS */
  mdns: boolean
  /** run the Kademlia DHT (peer routing); off only for very large in-process simulations */
  dht: boolean
  /** keep private/loopback addresses in the DHT (true for devnets and tests on one host) */
  dhtAllowPrivateAddresses: boolean
  /** hard cap on open connections */
  maxConnections: number
  /** connections still upgrading (Noise + Yamux) at once; bounds handshake CPU */
  maxIncomingPendingConnections: number
  /** new inbound connections per second from one host */
  inboundConnectionThreshold: number
  dialTimeoutMs: number
  /** per-stream receive window cap for Yamux: bounds memory per stream */
  yamuxMaxStreamWindowBytes: number
  /**
   * how often libp2p's connection monitor pings each connection (a new stream each time, and a
   * failed ping closes the connection); libp2p's default is 10 s
   */
  pingIntervalMs: number
  /**
   * how long a ping may take before the connection is closed; libp2p's own default adapts to
   * the measured round trip with a floor of 5 s
   */
  pingTimeoutMs: number
}

export const defaultHostOptions: HostOptions = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  announce: [],
  bootstrap: [],
  mdns: false,
  dht: true,
  dhtAllowPrivateAddresses: true,
  maxConnections: 128,
  maxIncomingPendingConnections: 16,
  inboundConnectionThreshold: 8,
  dialTimeoutMs: 10_000,
  yamuxMaxStreamWindowBytes: 4 * 2 ** 20,
  // An idle node's largest libp2p cost was these pings (see docs/network.md, "Scale"). Yamux's
  // keep-alive frame (every 30 s) keeps quiet sockets under the 120 s inactivity timeout, and
  // a peer that exits closes its sockets: the ping only finds a peer that hangs.
  pingIntervalMs: 60_000,
  // A node starved of CPU (a flood at full rate on the testnet's two cores) answered pings
  // late: with libp2p's 5 s floor every honest link of such a node was closed within a
  // second or two (their pings fall due together), and the node was cut off from the network
  // by its own side, an eclipse the attacker did not have to arrange. A peer that hangs is
  // still found within a ping interval plus this.
  pingTimeoutMs: 30_000,
}

export interface GossipOptions {
  /** offers whose biddingEnds is more than this far ahead are rejected */
  maxBiddingWindowSeconds: number
  /** tolerated clock difference between peers */
  clockSkewSeconds: number
  /** token bucket per publishing peer, per topic: sustained messages per second */
  rateLimitPerSecond: number
  /** token bucket capacity (burst) */
  rateLimitBurst: number
  /** how many job ids / ad keys to remember for duplicate detection */
  seenCacheSize: number
  /** how many verified identity bindings to cache (each saves an ECDSA recovery) */
  bindingCacheSize: number
  /** accept offers only for this chain and market (EIP-712 domain); others are ignored */
  chainId?: number
  market?: string
  /** IPs exempt from the IP-colocation penalty (all peers of a one-host devnet share 127.0.0.1) */
  ipColocationWhitelist: string[]
  /** gossipsub inbound RPC cap (whole frame, several messages) */
  maxInboundRpcBytes: number
  /**
   * ignore verdicts one forwarding peer may earn (token bucket: burst, then per second)
   * before its further not-for-us messages are rejected, which lowers its score (P4)
   */
  ignoreBudgetBurst: number
  ignoreBudgetPerSecond: number
  /** offers whose signature verdict is remembered by offer id and signature */
  signatureCacheSize: number
}

export const defaultGossipOptions: GossipOptions = {
  maxBiddingWindowSeconds: 3600,
  clockSkewSeconds: 30,
  rateLimitPerSecond: 2,
  rateLimitBurst: 20,
  seenCacheSize: 10_000,
  bindingCacheSize: 4096,
  ipColocationWhitelist: [],
  maxInboundRpcBytes: 1024 * 1024,
  ignoreBudgetBurst: 50,
  ignoreBudgetPerSecond: 0.5,
  signatureCacheSize: 4096,
}

export interface StreamProtocolOptions {
  /** time to open a stream and get the first answer */
  requestTimeoutMs: number
  /** an artifact transfer that delivers no bytes for this long is abandoned */
  idleTimeoutMs: number
  /** concurrent inbound streams per connection, per protocol */
  maxInboundBidStreams: number
  maxInboundArtifactStreams: number
  maxInboundResultStreams: number
  /** bytes the artifact receiver buffers before pausing the stream (backpressure) */
  artifactHighWaterMarkBytes: number
  /** largest artifact this node will download */
  maxArtifactBytes: number
  /**
   * the slowest transfer rate served or accepted: an artifact transfer of `size` bytes may take
   * at most requestTimeoutMs + size / this (in seconds) in total, idle or not
   */
  minTransferBytesPerSecond: number
}

export const defaultStreamProtocolOptions: StreamProtocolOptions = {
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 15_000,
  maxInboundBidStreams: 32,
  maxInboundArtifactStreams: 4,
  maxInboundResultStreams: 16,
  artifactHighWaterMarkBytes: 2 * 2 ** 20,
  maxArtifactBytes: 8 * 2 ** 30,
  minTransferBytesPerSecond: 128 * 2 ** 10,
}
