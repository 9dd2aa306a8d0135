/**
 * `/ocn/tokens/1.0.0`: a provider pushes the tokens of a generate job to the requester's peer
 * while it decodes. One-way, one length-prefixed TokenBatch per stream (like the result
 * notice), each read and write under the request timeout; the receiver closes the stream only
 * once its handler took the batch (a refusal resets it), so the sender knows it was delivered. The batch is not signed: the
 * handler takes it only from the job's awarded provider peer (the connection's remote peer is
 * authenticated by Noise), and the committed result stays the authority over what it says.
 */
import type { Connection, Stream } from '@libp2p/interface'
import {
  MAX_STREAMED_TOKENS_PER_BATCH,
  MAX_TOKEN_RUNS_PER_BATCH,
  type TokenBatch,
  type TokenRun,
} from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'
import type { Logger } from '../core/logger.js'
import { P2PError, P2PErrorCode } from './errors.js'
import type { OcnHost } from './host.js'
import { createP2PMetrics } from './metrics.js'
import { TOKEN_PROTOCOL } from './options.js'
import { PeerPenalties } from './peer-penalties.js'
import { lpFor, type PeerTarget, readMessage, sendOneMessage, toP2PError } from './streams.js'

/** Takes a batch (or throws to refuse it); `remotePeer` is the authenticated sender. */
export type TokenBatchHandler = (batch: TokenBatch, context: { remotePeer: string }) => void | Promise<void>

export interface TokenStreamOptions {
  /** time to open a stream and read or write its one batch */
  requestTimeoutMs: number
  /** concurrent inbound token streams per connection */
  maxInboundTokenStreams: number
}

export const defaultTokenStreamOptions: TokenStreamOptions = {
  requestTimeoutMs: 10_000,
  maxInboundTokenStreams: 4,
}

export interface TokenStreamComponents {
  host: OcnHost
  logger: Logger
  registry?: Registry
  penalties?: PeerPenalties
}

export interface TokenStreamProtocol {
  start(): Promise<void>
  stop(): Promise<void>
  setTokenHandler(handler: TokenBatchHandler | undefined): void
  /**
   * Sends one batch (packTokenBatches keeps it within the limits) and resolves once the
   * requester's handler took it; rejects when it was refused or the request timeout passed.
   */
  sendTokens(peer: PeerTarget, batch: TokenBatch, options?: { signal?: AbortSignal }): Promise<void>
}

/**
 * Splits runs into batches within MAX_TOKEN_RUNS_PER_BATCH runs and
 * MAX_STREAMED_TOKENS_PER_BATCH tokens each (a long run is cut into consecutive runs).
 */
export function packTokenBatches(jobId: Hex, runs: readonly TokenRun[]): TokenBatch[] {
  const batches: TokenBatch[] = []
  let current: TokenRun[] = []
  let count = 0
  const close = () => {
    if (current.length > 0) batches.push({ version: 1, jobId, runs: current })
    current = []
    count = 0
  }
  for (const run of runs) {
    for (let at = 0; at < run.tokens.length; ) {
      if (current.length === MAX_TOKEN_RUNS_PER_BATCH || count === MAX_STREAMED_TOKENS_PER_BATCH) close()
      const take = Math.min(run.tokens.length - at, MAX_STREAMED_TOKENS_PER_BATCH - count)
      current.push({ prompt: run.prompt, from: run.from + at, tokens: run.tokens.slice(at, at + take) })
      count += take
      at += take
    }
  }
  close()
  return batches
}

function receiver(
  options: TokenStreamOptions,
  log: Logger,
  metrics: ReturnType<typeof createP2PMetrics>,
  penalties: PeerPenalties,
  handler: () => TokenBatchHandler | undefined,
) {
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const remotePeer = connection.remotePeer.toString()
    if (penalties.isRefused(remotePeer)) {
      metrics.streamRefusals.inc({ protocol: TOKEN_PROTOCOL, reason: 'penalised' })
      stream.abort(new P2PError(P2PErrorCode.REMOTE_REFUSED, 'peer refused for a while after stalling'))
      return
    }
    const signal = AbortSignal.timeout(options.requestTimeoutMs)
    let outcome = 'ok'
    let reading = true
    try {
      const batch = await readMessage(lpFor(stream, 'tokenBatch'), 'tokenBatch', signal)
      reading = false
      const take = handler()
      if (take === undefined) throw new P2PError(P2PErrorCode.REMOTE_REFUSED, 'this node takes no tokens')
      await take(batch, { remotePeer })
      // closed only once the batch is taken: the sender waits for this (sendTokens), and a
      // refusal resets the stream instead, so the provider knows to try the batch again
      await stream.close({ signal }).catch(() => {})
    } catch (error) {
      const mapped = toP2PError(error, { signal, peer: remotePeer, what: TOKEN_PROTOCOL })
      outcome = mapped.code
      stream.abort(mapped)
      // a sender that opens the stream and never sends its batch held a stream for nothing
      if (reading && mapped.code === P2PErrorCode.TIMEOUT) {
        penalties.penalise(remotePeer)
        metrics.streamStalls.inc({ protocol: TOKEN_PROTOCOL, direction: 'inbound' })
      }
      log.debug({ err: error, peer: remotePeer }, 'token batch refused')
    } finally {
      metrics.streamRequests.inc({ protocol: TOKEN_PROTOCOL, direction: 'inbound', outcome })
    }
  }
}

export function createTokenStreamProtocol(
  init: Partial<TokenStreamOptions>,
  components: TokenStreamComponents,
): TokenStreamProtocol {
  const options: TokenStreamOptions = { ...defaultTokenStreamOptions }
  for (const [k, v] of Object.entries(init)) if (v !== undefined) options[k as keyof TokenStreamOptions] = v
  const { host } = components
  const log = components.logger.child({ component: 'token-stream' })
  const metrics = createP2PMetrics(components.registry)
  const penalties = components.penalties ?? new PeerPenalties()
  let handler: TokenBatchHandler | undefined
  const limits = {
    maxInboundStreams: options.maxInboundTokenStreams,
    maxOutboundStreams: options.maxInboundTokenStreams,
  }
  return {
    async start() {
      await host.handle(
        TOKEN_PROTOCOL,
        receiver(options, log, metrics, penalties, () => handler),
        limits,
      )
    },
    async stop() {
      await host.unhandle(TOKEN_PROTOCOL).catch(() => {})
    },
    setTokenHandler(next) {
      handler = next
    },
    async sendTokens(peer, batch, call = {}) {
      await sendOneMessage(
        host,
        peer,
        TOKEN_PROTOCOL,
        { type: 'tokenBatch', body: batch },
        {
          timeoutMs: options.requestTimeoutMs,
          signal: call.signal,
          untilTaken: true,
          onOutcome: (outcome) =>
            metrics.streamRequests.inc({ protocol: TOKEN_PROTOCOL, direction: 'outbound', outcome }),
        },
      )
    },
  }
}
