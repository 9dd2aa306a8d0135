/**
 * Yamux window updates at half the window (p2p/yamux-window.ts), seen on the wire: two real
 * libp2p nodes whose TCP connection runs through a proxy that counts the bytes each way.
 * Small messages one at a time (a gossip stream's traffic) must not draw a window-update
 * frame each (30 bytes back per message, Noise included), and a bulk transfer many windows
 * long must still get the credit it needs to finish.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, describe, expect, it } from 'vitest'
import { installYamuxHalfWindowUpdates } from '../../src/p2p/yamux-window.js'
import { byteSink, startNode, stopNodes, type TestNode, waitFor } from './helpers.js'

const PROTOCOL = '/ocn-test/sink/1.0.0'
const nodes: TestNode[] = []
const sockets: Socket[] = []
let proxy: Server | undefined

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  proxy?.close()
  await stopNodes(nodes)
})

/** A TCP proxy to `port` on 127.0.0.1 counting the bytes each way. */
async function countingProxy(port: number) {
  const bytes = { forward: 0, back: 0 }
  proxy = createServer((client) => {
    const upstream = netConnect({ host: '127.0.0.1', port })
    sockets.push(client, upstream)
    client.on('data', (chunk: Buffer) => {
      bytes.forward += chunk.length
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      bytes.back += chunk.length
      client.write(chunk)
    })
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve))
  const address = proxy.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no port')
  return { bytes, port: address.port }
}

describe('yamux window updates (issue 17)', () => {
  it('sends no window update per small message, and still credits a bulk transfer to the end', async () => {
    expect(installYamuxHalfWindowUpdates()).toBe(true)
    const sender = await startNode()
    const receiver = await startNode()
    nodes.push(sender, receiver)
    const { arrival, received } = byteSink(receiver, PROTOCOL)
    const tcpPort = Number(/\/tcp\/(\d+)/.exec(receiver.host.getMultiaddrs()[0]!.toString())?.[1])
    const { bytes, port } = await countingProxy(tcpPort)
    const stream = await sender.host.dialProtocol(
      multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${receiver.peerId}`),
      PROTOCOL,
    )

    // 300 messages of 1000 bytes, each sent once the last has arrived: one frame each
    const backBefore = bytes.back
    const message = new Uint8Array(1000).fill(7)
    for (let i = 1; i <= 300; i++) {
      stream.send(message)
      await arrival(i * 1000)
    }
    const backForMessages = bytes.back - backBefore
    // an update per frame is >= 30 bytes each (12-byte header, 16-byte tag, 2-byte length):
    // >= 9000 bytes; at half the window (256 KiB) this traffic owes one update at most
    expect(backForMessages).toBeLessThan(1_500)

    // a bulk transfer of 16 windows: the sender stalls for good unless updates still come
    const chunk = new Uint8Array(64 * 1024).fill(9)
    const bulkStart = received()
    for (let i = 0; i < 64; i++) if (!stream.send(chunk)) await stream.onDrain()
    await waitFor(() => received() === bulkStart + 64 * chunk.length, 20_000, 'the bulk transfer')
    expect(bytes.forward).toBeGreaterThan(4 * 1024 * 1024)
    await stream.close()
  })
})
