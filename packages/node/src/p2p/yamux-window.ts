/**
 * Yamux window updates at half the window, not after every frame.
 *
 * `@chainsafe/libp2p-yamux` 8.0.x (and its successor `@libp2p/yamux` 8.0.3) answers every
 * data frame it receives with a window-update frame. On a gossip stream, where each RPC is
 * one small frame, that doubles the frames on every link: each update is one more Noise
 * message, one more socket write (whose kernel delivery the writer pays on loopback and
 * veth links), and one more read and decryption at the other end. On the 60-node testnet
 * (two cores, saturated while an offer spreads) those frames were a quarter of the relays'
 * work and a large share of the nodes'.
 *
 * The yamux specification leaves the timing of updates to the receiver, and Go's yamux, the
 * reference, sends one only once the credit it owes is at least half the window. This does
 * the same: while the sender still holds more than half the window, no update is sent. The
 * sender never stalls on it: it is told of new credit long before it runs out. Updates that
 * carry a flag (the SYN/ACK of opening a stream) and the paused state go through unchanged,
 * and the window auto-tuning runs whenever an update is sent, as before.
 *
 * The library keeps this decision in a method of its stream class, so it is changed there,
 * once per process, and only if the class still has the shape this was written against
 * (`installed` says whether it took; a test checks the frames on the wire).
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

/** The fields the decision reads; private in the library's typings, present at run time. */
interface StreamWindow {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

type SendWindowUpdate = (this: YamuxStream) => void

let installed: boolean | undefined

/** Installs the half-window rule (idempotent); false when the library's shape has changed. */
export function installYamuxHalfWindowUpdates(): boolean {
  if (installed !== undefined) return installed
  const prototype = YamuxStream.prototype as unknown as { sendWindowUpdate?: SendWindowUpdate }
  const original = prototype.sendWindowUpdate
  if (typeof original !== 'function' || StreamState.Established === undefined) {
    installed = false
    return installed
  }
  prototype.sendWindowUpdate = function sendWindowUpdateAtHalf(this: YamuxStream) {
    const stream = this as unknown as StreamWindow
    const owed = stream.recvWindow - stream.recvWindowCapacity
    // an established stream with less than half the window owed: the sender is far from
    // stalling, so the update can wait and ride on a later one (fields the library no longer
    // has make `owed` NaN, which fails both comparisons: the library decides as before)
    if (stream.state === StreamState.Established && owed >= 0 && owed * 2 < stream.recvWindow) return
    original.call(this)
  }
  installed = true
  return installed
}
