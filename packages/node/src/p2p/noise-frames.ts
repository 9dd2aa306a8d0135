/**
 * One socket write per Noise frame, not two.
 *
 * `@chainsafe/libp2p-noise` 17 hands each encrypted frame to the transport as two chunks, its
 * 2-byte length and then the ciphertext, and `@libp2p/tcp` 11 writes every chunk to the
 * socket on its own. With Nagle's algorithm off (libp2p's default, for latency) each frame
 * then leaves as a 2-byte TCP segment followed by the rest: two syscalls for the writer (who
 * pays the kernel's delivery on loopback and veth links), two packets on the wire and up to
 * two wake-ups of whoever reads them. A warm 60-node testnet node spent about a fifth of its
 * CPU in those socket writes while an offer spread (`--cpu-prof`).
 *
 * The encrypter below wraps Noise and, on each connection it secures, joins the chunks of
 * every encrypted message into one buffer before the transport sees it: a copy of a frame
 * (at most 64 KiB) instead of a syscall and a packet. Bytes on the wire are unchanged, so
 * peers see ordinary Noise. The connection's `encrypt` is replaced per connection, and only
 * where it has the shape this was written against; elsewhere the connection is left as
 * Noise made it (`wholeFrames` says whether it took; a test counts the writes).
 */
import { type NoiseInit, noise } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter, MessageStream, SecuredConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

type NoiseComponents = Parameters<ReturnType<typeof noise>>[0]

/** What a secured Noise connection has at run time (not in its public typings). */
interface EncryptingStream {
  encrypt?: (chunk: Uint8Array | Uint8ArrayList) => Uint8Array | Uint8ArrayList
}

/** Makes `connection` hand each encrypted message on as one buffer; false if it has no `encrypt`. */
export function wholeFrames(connection: MessageStream): boolean {
  const stream = connection as unknown as EncryptingStream
  const encrypt = stream.encrypt
  if (typeof encrypt !== 'function') return false
  stream.encrypt = (chunk) => {
    const out = encrypt.call(connection, chunk)
    // a list of one chunk gives that chunk back; of several, one copy of them all
    return out instanceof Uint8Array ? out : out.subarray()
  }
  return true
}

/**
 * Noise, with each secured connection's frames written whole (see above). `onShapeChanged`
 * is called once if a connection lacks the method this relies on (a newer Noise); its
 * frames then go out as Noise writes them.
 */
export function noiseWithWholeFrames(init: NoiseInit = {}, onShapeChanged: () => void = () => {}) {
  const make = noise(init)
  let warned = false
  const whole = <E>(secured: SecuredConnection<E>): SecuredConnection<E> => {
    if (!wholeFrames(secured.connection) && !warned) {
      warned = true
      onShapeChanged()
    }
    return secured
  }
  return (components: NoiseComponents): ConnectionEncrypter => {
    const inner = make(components)
    return {
      protocol: inner.protocol,
      secureInbound: async (connection, options) => whole(await inner.secureInbound(connection, options)),
      secureOutbound: async (connection, options) => whole(await inner.secureOutbound(connection, options)),
    }
  }
}
