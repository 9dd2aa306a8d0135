/**
 * Uploading a job's files to the node (`POST /uploads`, then `POST /uploads/:id` per chunk):
 * a file goes in chunks so every request stays small and within the node's time limit, and
 * the caller sees progress in the browser too (fetch reports none for a request body).
 */
import { isResultFileName, type UploadStatus } from '@ocn/protocol/api'
import { ClientError } from './errors.js'
import type { CallOptions } from './http.js'

/** What `upload` takes: a browser File (a Blob), bytes in memory, or a web stream. */
export type UploadSource = Blob | Uint8Array | ReadableStream<Uint8Array>

export interface UploadProgress {
  name: string
  /** bytes the node has taken */
  sent: number
  /** the file's size, when the source tells it (a Blob or bytes; not a stream) */
  total?: number
}

export interface UploadOptions extends CallOptions {
  /** Bytes per request; 4 MiB by default (the node takes at most 8 MiB a chunk by default). */
  chunkBytes?: number
  /** Called after each chunk the node took. */
  onProgress?: (progress: UploadProgress) => void
}

const DEFAULT_CHUNK = 4 * 1024 * 1024
const MAX_CHUNK = 64 * 1024 * 1024

function sizeOf(source: UploadSource): number | undefined {
  if (source instanceof Uint8Array) return source.length
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.size
  return undefined
}

/** A stream cut into pieces of exactly `size` bytes (the last one shorter). */
async function* streamChunks(
  stream: ReadableStream<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader()
  let buffer = new Uint8Array(size)
  let filled = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      let offset = 0
      while (offset < value.length) {
        const take = Math.min(size - filled, value.length - offset)
        buffer.set(value.subarray(offset, offset + take), filled)
        filled += take
        offset += take
        if (filled === size) {
          yield buffer
          buffer = new Uint8Array(size)
          filled = 0
        }
      }
    }
    yield buffer.slice(0, filled)
  } finally {
    reader.releaseLock()
  }
}

/** The source in chunks of `size` bytes; an empty source is one empty chunk. */
async function* chunksOf(source: UploadSource, size: number): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  if (source instanceof Uint8Array) {
    for (let at = 0; at < source.length || at === 0; at += size) yield source.slice(at, at + size)
  } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
    for (let at = 0; at < source.size || at === 0; at += size)
      yield new Uint8Array(await source.slice(at, at + size).arrayBuffer())
  } else if (source instanceof ReadableStream) {
    yield* streamChunks(source, size)
  } else {
    throw new ClientError(
      'CLIENT_INVALID_INPUT',
      'upload takes a Blob (a File), a Uint8Array or a ReadableStream',
    )
  }
}

/** Each chunk with whether it is the last (so the last request can say `final=1`). */
async function* withLast<T>(items: AsyncIterable<T>): AsyncGenerator<{ item: T; last: boolean }> {
  let held: { item: T } | undefined
  for await (const item of items) {
    if (held !== undefined) yield { item: held.item, last: false }
    held = { item }
  }
  if (held !== undefined) yield { item: held.item, last: true }
}

/** The parts of the client an upload goes through. */
export interface UploadTransport {
  postBytes(path: string, bytes: Uint8Array<ArrayBuffer>, call: CallOptions): Promise<UploadStatus>
  sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string>
}

export async function uploadFile(
  transport: UploadTransport,
  source: UploadSource,
  name: string,
  options: UploadOptions = {},
): Promise<UploadStatus> {
  if (!isResultFileName(name))
    throw new ClientError('CLIENT_INVALID_INPUT', `"${name}" is not a file name the node takes`, {
      details:
        '1 to 128 letters, digits, ".", "-" or "_", not starting with "."; keep the extension (.onnx, .safetensors, .npy, .json)',
    })
  const size = options.chunkBytes ?? DEFAULT_CHUNK
  if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK)
    throw new ClientError('CLIENT_INVALID_INPUT', `chunkBytes must be an integer from 1 to ${MAX_CHUNK}`)
  const total = sizeOf(source)
  const call: CallOptions = { signal: options.signal, timeoutMs: options.timeoutMs ?? 60_000 }
  let status: UploadStatus | undefined
  let sent = 0
  for await (const { item: bytes, last } of withLast(chunksOf(source, size))) {
    const final = last ? '&final=1' : ''
    const path =
      status === undefined
        ? `/uploads?name=${encodeURIComponent(name)}${final}`
        : `/uploads/${encodeURIComponent(status.uploadId)}?offset=${sent}${final}`
    status = await transport.postBytes(path, bytes, call)
    sent += bytes.length
    options.onProgress?.({ name, sent, ...(total === undefined ? {} : { total }) })
  }
  if (status === undefined || !status.complete || status.bytes !== sent || status.hash === undefined)
    throw new ClientError('CLIENT_BAD_RESPONSE', `the node did not complete the upload of ${name}`, {
      details: `sent ${sent} bytes; the node has ${status?.bytes ?? 0}`,
    })
  // bytes in memory are hashed here too, so a file changed on the way is caught now
  if (source instanceof Uint8Array) {
    const hash = await transport.sha256Hex(source.slice())
    if (hash !== status.hash)
      throw new ClientError('CLIENT_HASH_MISMATCH', `the node's copy of ${name} does not match its bytes`, {
        details: `sent ${hash}, the node has ${status.hash}`,
      })
  }
  return status
}
