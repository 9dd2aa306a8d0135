/**
 * The link delay in user space, for kernels without `netem`: a TCP relay in front of each
 * node, in the node's namespace. It accepts on the node's announced address, connects on to
 * the node on the namespace's loopback, and holds every chunk, both ways, for the link's
 * one-way delay (chosen by the dialler's address). Each connection between two nodes crosses
 * exactly one relay (the accepting node's), so each link gets its delay once per direction.
 *
 * The relay connects from 127.1.x.y, after the dialler's 10.a.x.y, so the node still tells
 * its peers apart by address (gossipsub's per-address scoring, per-host connection limits).
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface LinkRelayOptions {
  listenHost: string
  listenPort: number
  targetPort: number
  /** One-way delay by the dialler's address; `defaultDelayMs` for any other. */
  delays: Readonly<Record<string, number>>
  defaultDelayMs: number
}

/** Bytes held per direction before reading pauses: the relay's own bound on memory. */
const HIGH_WATER_BYTES = 4 * 2 ** 20
const CONNECT_TIMEOUT_MS = 5_000

/** Forwards `from` to `to`, each chunk `delayMs` after it arrived, in order, with backpressure. */
export function delayedPipe(from: Socket, to: Socket, delayMs: number): void {
  const queue: { due: number; chunk: Buffer | null }[] = []
  let held = 0
  let scheduled = false
  const flush = () => {
    scheduled = false
    const now = performance.now()
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!
      if (chunk === null) {
        to.end()
        return
      }
      held -= chunk.length
      // the receiver is slower than the link: stop reading until it drains
      if (!to.write(chunk)) from.pause()
    }
    if (held < HIGH_WATER_BYTES / 2 && !to.writableNeedDrain && from.isPaused()) from.resume()
    if (queue.length > 0) schedule(queue[0]!.due - now)
  }
  const schedule = (waitMs: number) => {
    scheduled = true
    setTimeout(flush, Math.max(0, waitMs))
  }
  const enqueue = (chunk: Buffer | null) => {
    queue.push({ due: performance.now() + delayMs, chunk })
    if (chunk !== null) held += chunk.length
    if (held > HIGH_WATER_BYTES) from.pause()
    if (!scheduled) schedule(delayMs)
  }
  from.on('data', (chunk: Buffer) => enqueue(chunk))
  from.once('end', () => enqueue(null))
  to.on('drain', () => {
    if (held < HIGH_WATER_BYTES / 2) from.resume()
  })
}

/** The loopback address the relay connects from for a dialler at 10.a.x.y: 127.1.x.y. */
export function loopbackAlias(remote: string | undefined): string {
  const octets = /^(?:::ffff:)?\d+\.\d+\.(\d+)\.(\d+)$/.exec(remote ?? '')
  return octets === null ? '127.0.0.1' : `127.1.${octets[1]}.${octets[2]}`
}

function relayConnection(client: Socket, options: LinkRelayOptions): void {
  const remote = client.remoteAddress?.replace(/^::ffff:/, '')
  const delayMs = options.delays[remote ?? ''] ?? options.defaultDelayMs
  client.pause()
  const upstream = connect({
    host: '127.0.0.1',
    port: options.targetPort,
    localAddress: loopbackAlias(remote),
    timeout: CONNECT_TIMEOUT_MS,
  })
  const opened = performance.now()
  const close = () => {
    if (!client.destroyed && process.env.TESTNET_RELAY_TRACE === '1')
      process.stderr.write(
        `relay: ${remote} closed after ${Math.round(performance.now() - opened)} ms, in ${client.bytesRead} B, out ${client.bytesWritten} B\n`,
      )
    client.destroy()
    upstream.destroy()
  }
  upstream.once('timeout', close)
  upstream.once('connect', () => {
    upstream.setTimeout(0)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    delayedPipe(client, upstream, delayMs)
    delayedPipe(upstream, client, delayMs)
    client.resume()
  })
  client.once('error', close)
  upstream.once('error', close)
  client.once('close', close)
  upstream.once('close', close)
}

/** Starts the relay; resolves once it accepts. */
export function startLinkRelay(options: LinkRelayOptions): Promise<Server> {
  const server = createServer({ pauseOnConnect: true }, (client) => relayConnection(client, options))
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.listenPort, options.listenHost, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}
