/**
 * libp2p's connection monitor pings every connection of a node at the same moment and closes
 * each whose answer is late. Its own timeout adapts to the round trips it has seen, with a
 * floor of 5 s, so a node starved of CPU for a few seconds (on the testnet: a flood at full
 * rate) lost all its honest links at once. OCN's hosts use a fixed, longer timeout
 * (`pingTimeoutMs`, 30 s). Here a real peer answers pings late on purpose.
 */
import type { Stream } from '@libp2p/interface'
import { afterAll, describe, expect, it } from 'vitest'
import { defaultHostOptions } from '../../src/p2p/index.js'
import { connect, startNode, stopNodes, type TestNode, waitFor } from './helpers.js'

const PING = '/ipfs/ping/1.0.0'
const nodes: TestNode[] = []
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

afterAll(() => stopNodes(nodes))

/** Makes `node` answer every ping `delayMs` late (an echo, as the ping protocol wants). */
async function answerLate(node: TestNode, delayMs: number): Promise<void> {
  await node.host.unhandle(PING)
  await node.host.handle(PING, (stream: Stream) => {
    stream.addEventListener('message', (event) => {
      const data = (event as Event & { data: Uint8Array }).data
      // echo, then close our side as libp2p's ping service does, so the stream ends
      setTimeout(() => {
        if (stream.status !== 'open') return
        stream.send(data)
        void stream.close().catch(() => {})
      }, delayMs)
    })
  })
}

const linked = (a: TestNode, b: TestNode) =>
  a.host.getConnections().some((c) => c.remotePeer.toString() === b.peerId)

/**
 * A pinger every `intervalMs` (the daemon's is 60 s) and a peer that answers `delayMs` late.
 * The interval is longer than any ping here takes: libp2p allows one ping stream per
 * connection and closes the connection when a second one cannot open.
 */
async function pair(delayMs: number, intervalMs: number, pingTimeoutMs?: number) {
  const pinger = await startNode({
    host: { pingIntervalMs: intervalMs, ...(pingTimeoutMs === undefined ? {} : { pingTimeoutMs }) },
  })
  const slow = await startNode()
  nodes.push(pinger, slow)
  await answerLate(slow, delayMs)
  await connect(pinger, slow)
  return { pinger, slow }
}

describe('ping timeout (issue 17)', () => {
  it('keeps a link whose peer answers 5.5 s late, past libp2p’s own 5 s floor', async () => {
    expect(defaultHostOptions.pingTimeoutMs).toBe(30_000)
    // the first ping goes out at 6 s and is answered at 11.5 s; libp2p's floor gives up at 11 s
    const { pinger, slow } = await pair(5_500, 6_000)
    await sleep(12_500)
    expect(linked(pinger, slow)).toBe(true)
  })

  it('still closes a link whose peer answers later than the timeout', async () => {
    // the first ping goes out at 2 s and times out at 3 s, before the 5 s answer; waited for
    // rather than slept on, so a loaded machine's late close does not fail it
    const { pinger, slow } = await pair(5_000, 2_000, 1_000)
    await waitFor(() => !linked(pinger, slow), 4_500, 'the late peer to lose its link')
    expect(linked(pinger, slow)).toBe(false)
  })
})
