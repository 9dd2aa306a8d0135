/**
 * One socket write per Noise frame (p2p/noise-frames.ts), counted at the sender's socket: two
 * real libp2p nodes on loopback, small messages one at a time (a gossip stream's traffic).
 * Noise as shipped makes two writes of each frame (its 2-byte length, then the ciphertext),
 * so 300 messages drew 600 writes or more before.
 */
import { Socket } from 'node:net'
import type { MessageStream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { wholeFrames } from '../../src/p2p/noise-frames.js'
import { byteSink, startNode, stopNodes, type TestNode } from './helpers.js'

const PROTOCOL = '/ocn-test/sink/1.0.0'
const nodes: TestNode[] = []
const originalWrite = Socket.prototype.write

afterEach(() => {
  Socket.prototype.write = originalWrite
})
afterAll(async () => {
  await stopNodes(nodes)
})

describe('noise frames (issue 17)', () => {
  it('writes each small message to the socket once', async () => {
    const sender = await startNode()
    const receiver = await startNode()
    nodes.push(sender, receiver)
    const { arrival } = byteSink(receiver, PROTOCOL)
    const port = Number(/\/tcp\/(\d+)/.exec(receiver.host.getMultiaddrs()[0]!.toString())?.[1])
    const stream = await sender.host.dialProtocol(
      multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${receiver.peerId}`),
      PROTOCOL,
    )
    // every write on the sender's socket to the receiver, from here on
    let writes = 0
    Socket.prototype.write = function countedWrite(this: Socket, ...args: unknown[]) {
      if (this.remotePort === port) writes++
      return (originalWrite as (...a: unknown[]) => boolean).apply(this, args)
    } as typeof Socket.prototype.write

    const message = new Uint8Array(1000).fill(7)
    for (let i = 1; i <= 300; i++) {
      stream.send(message)
      await arrival(i * 1000)
    }
    Socket.prototype.write = originalWrite
    // one yamux frame, so one Noise frame, per message: one write each (a stray window
    // update or ping may add a few)
    expect(writes).toBeGreaterThanOrEqual(300)
    expect(writes).toBeLessThan(330)
    await stream.close()
  })

  it('joins what a connection encrypts into one buffer, and leaves a connection without encrypt alone', () => {
    const list = new Uint8ArrayList(Uint8Array.of(0, 3), Uint8Array.of(1, 2, 3))
    const connection = { encrypt: (_chunk: Uint8Array) => list } as unknown as MessageStream
    expect(wholeFrames(connection)).toBe(true)
    const out = (connection as unknown as { encrypt: (c: Uint8Array) => unknown }).encrypt(new Uint8Array(3))
    expect(out).toBeInstanceOf(Uint8Array)
    expect([...(out as Uint8Array)]).toEqual([0, 3, 1, 2, 3])
    expect(wholeFrames({} as MessageStream)).toBe(false)
  })
})
