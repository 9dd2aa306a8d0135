/**
 * Backpressure for raw artifact bytes on a libp2p stream, both ways: the receiver pauses
 * the stream above a high-water mark (Yamux then withholds window updates, so the sender
 * stops) and the sender waits until its write buffer drains. Memory stays bounded on both
 * ends, whatever the artifact size.
 */
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { P2PError, P2PErrorCode } from './errors.js'

/**
 * Yields exactly `size` bytes from the stream, pausing it while more than `highWaterMark`
 * bytes wait to be consumed, and failing when nothing arrives for `idleTimeoutMs`.
 *
 * Listeners are attached at once, not on first iteration: without a 'message' listener
 * the stream buffers everything that arrives while Yamux keeps granting window, which
 * is exactly the unbounded growth this reader exists to prevent.
 */
export function readBody(
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
export async function drainBelow(stream: Stream, limit: number, signal: AbortSignal): Promise<void> {
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
