/**
 * Files a client uploads for a job (`POST /uploads`, `POST /uploads/:id`): streamed in
 * chunks to `<dataDir>/uploads/<id>/<name>`, hashed as they arrive, held until a job
 * submission names them or they expire. The node picks the id and so the folder; the name
 * is checked to be a plain file name (its extension tells the requester the format), so a
 * client never chooses a path. What waits is bounded in count and bytes.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto'
import { mkdir, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isResultFileName, type UploadStatus } from '@ocn/protocol/api'
import { ApiError } from './errors.js'

export interface UploadLimits {
  /** Largest file, in bytes. */
  maxUploadBytes: number
  /** Largest chunk one request carries (each must arrive within the request time limit). */
  maxUploadChunkBytes: number
  /** Uploads held at once, unfinished or waiting for a job. */
  maxPendingUploads: number
  /** Bytes held at once over all of them. */
  maxPendingUploadBytes: number
  /** Time an upload is held after its last chunk (or its last use) before it is deleted. */
  uploadTtlMs: number
}

interface Entry {
  id: string
  name: string
  file: string
  bytes: number
  hash: Hash
  digest?: string
  busy: boolean
  expiresAt: number
}

const MiB = 1024 * 1024

function mib(bytes: number): string {
  return bytes >= MiB
    ? `${bytes} bytes (${(bytes / MiB).toFixed(bytes % MiB === 0 ? 0 : 1)} MiB)`
    : `${bytes} bytes`
}

/** One request's bytes of an upload, and their length when the request declared it. */
export interface UploadChunk {
  body: AsyncIterable<Buffer>
  declaredBytes?: number | undefined
}

export interface UploadStore {
  start(): Promise<void>
  stop(): Promise<void>
  /** Starts an upload named `name` with its first chunk. */
  create(name: string, chunk: UploadChunk, final: boolean, signal: AbortSignal): Promise<UploadStatus>
  /** Adds the chunk that begins at `offset` (the bytes received so far). */
  append(
    id: string,
    offset: number,
    chunk: UploadChunk,
    final: boolean,
    signal: AbortSignal,
  ): Promise<UploadStatus>
  /** The file of a finished upload (its expiry restarts), or undefined. */
  path(id: string): string | undefined
  /** Deletes uploads a job has taken: the requester holds its own copy of their bytes. */
  consume(ids: readonly string[]): Promise<void>
}

const waitHint = (limits: UploadLimits) =>
  `submit the jobs that use them, or wait up to ${Math.ceil(limits.uploadTtlMs / 60_000)} min for them to expire`

/** The uploads of one API server, in memory (ids, hashes) and in its folder (bytes). */
class UploadFolder implements UploadStore {
  private readonly entries = new Map<string, Entry>()
  private sweeper: ReturnType<typeof setInterval> | undefined

  constructor(
    private readonly dir: string,
    private readonly limits: UploadLimits,
    private readonly now: () => number,
  ) {}

  async start(): Promise<void> {
    // ids live in memory: what a previous run left is unreachable, so it goes
    await rm(this.dir, { recursive: true, force: true })
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    this.sweeper = setInterval(() => void this.sweep(), Math.min(this.limits.uploadTtlMs, 60_000))
    this.sweeper.unref()
  }

  async stop(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    this.sweeper = undefined
  }

  async create(name: string, chunk: UploadChunk, final: boolean, signal: AbortSignal) {
    if (!isResultFileName(name))
      throw new ApiError(
        'API_BAD_REQUEST',
        'name must be a file name: 1 to 128 letters, digits, ".", "-" or "_"',
        { details: 'its extension tells the node the format (.onnx, .safetensors, .npy, .json)' },
      )
    await this.sweep()
    if (this.entries.size >= this.limits.maxPendingUploads)
      throw new ApiError(
        'API_UPLOAD_LIMIT',
        `the node holds at most ${this.limits.maxPendingUploads} uploads at once`,
        { details: waitHint(this.limits) },
      )
    const id = `up_${randomBytes(16).toString('hex')}`
    await mkdir(join(this.dir, id), { mode: 0o700 })
    const entry: Entry = {
      id,
      name,
      file: join(this.dir, id, name),
      bytes: 0,
      hash: createHash('sha256'),
      busy: false,
      expiresAt: this.now() + this.limits.uploadTtlMs,
    }
    this.entries.set(id, entry)
    return this.take(entry, chunk, final, signal)
  }

  async append(id: string, offset: number, chunk: UploadChunk, final: boolean, signal: AbortSignal) {
    const entry = this.live(id)
    if (entry === undefined)
      throw new ApiError('API_NOT_FOUND', `no upload ${id}`, {
        details: 'it expired, failed or was taken by a job; start the upload again',
      })
    if (entry.digest !== undefined)
      throw new ApiError('API_UPLOAD_CONFLICT', `upload ${id} is complete already`)
    if (entry.busy || offset !== entry.bytes)
      throw new ApiError(
        'API_UPLOAD_CONFLICT',
        `upload ${id} takes its next chunk at offset ${entry.bytes}`,
        {
          details: 'send the chunks one at a time, in order',
        },
      )
    return this.take(entry, chunk, final, signal)
  }

  path(id: string): string | undefined {
    const entry = this.live(id)
    if (entry?.digest === undefined) return undefined
    entry.expiresAt = this.now() + this.limits.uploadTtlMs
    return entry.file
  }

  async consume(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const entry = this.entries.get(id)
      if (entry !== undefined) await this.discard(entry)
    }
  }

  private held(): number {
    let sum = 0
    for (const entry of this.entries.values()) sum += entry.bytes
    return sum
  }

  private status(entry: Entry): UploadStatus {
    return {
      uploadId: entry.id,
      name: entry.name,
      bytes: entry.bytes,
      complete: entry.digest !== undefined,
      ...(entry.digest === undefined ? {} : { hash: entry.digest }),
      expiresAt: entry.expiresAt,
    }
  }

  private async discard(entry: Entry): Promise<void> {
    this.entries.delete(entry.id)
    await rm(join(this.dir, entry.id), { recursive: true, force: true })
  }

  /** The entry of an id, unless it has expired (the sweeper may not have run yet). */
  private live(id: string): Entry | undefined {
    const entry = this.entries.get(id)
    if (entry === undefined || entry.busy || entry.expiresAt > this.now()) return entry
    void this.discard(entry).catch(() => {})
    return undefined
  }

  private async sweep(): Promise<void> {
    const time = this.now()
    for (const entry of [...this.entries.values()])
      if (!entry.busy && entry.expiresAt <= time) await this.discard(entry).catch(() => {})
  }

  /** Why one more piece of `bytes` may not be taken, if it may not. */
  private refusal(entry: Entry, chunkBytes: number, bytes: number): ApiError | undefined {
    const { limits } = this
    if (chunkBytes > limits.maxUploadChunkBytes)
      return new ApiError(
        'API_PAYLOAD_TOO_LARGE',
        `an upload chunk may be at most ${mib(limits.maxUploadChunkBytes)}`,
        {
          details: 'send the file in smaller chunks (@ocn/client does)',
        },
      )
    if (entry.bytes + bytes > limits.maxUploadBytes)
      return new ApiError('API_PAYLOAD_TOO_LARGE', `an upload may be at most ${mib(limits.maxUploadBytes)}`, {
        details: `${entry.name} is larger; the node's limit is its API option maxUploadBytes`,
      })
    if (this.held() + bytes > limits.maxPendingUploadBytes)
      return new ApiError(
        'API_UPLOAD_LIMIT',
        `the node holds at most ${mib(limits.maxPendingUploadBytes)} of uploads`,
        {
          details: waitHint(limits),
        },
      )
    return undefined
  }

  /**
   * Streams one chunk to the end of the file, checking every limit as bytes arrive. A chunk
   * whose declared length is over a limit is refused before any of it is read, so the client
   * gets the answer rather than a connection cut mid-body.
   */
  private async receive(entry: Entry, chunk: UploadChunk, signal: AbortSignal): Promise<void> {
    if (chunk.declaredBytes !== undefined) {
      const refused = this.refusal(entry, chunk.declaredBytes, chunk.declaredBytes)
      if (refused !== undefined) throw refused
    }
    const handle = await open(entry.file, 'a', 0o600)
    let chunkBytes = 0
    try {
      for await (const piece of chunk.body) {
        if (signal.aborted) throw new ApiError('API_TIMEOUT', 'the chunk did not arrive in time')
        chunkBytes += piece.length
        const refused = this.refusal(entry, chunkBytes, piece.length)
        if (refused !== undefined) throw refused
        entry.hash.update(piece)
        await handle.write(piece)
        entry.bytes += piece.length
      }
    } finally {
      await handle.close()
    }
  }

  /** Runs one chunk into an entry; a chunk that fails leaves a file of unknown bytes, so the upload goes. */
  private async take(entry: Entry, chunk: UploadChunk, final: boolean, signal: AbortSignal) {
    entry.busy = true
    try {
      await this.receive(entry, chunk, signal)
    } catch (cause) {
      await this.discard(entry)
      throw cause
    } finally {
      entry.busy = false
    }
    if (final) entry.digest = `0x${entry.hash.digest('hex')}`
    entry.expiresAt = this.now() + this.limits.uploadTtlMs
    return this.status(entry)
  }
}

export function createUploadStore(
  dir: string,
  limits: UploadLimits,
  now: () => number = Date.now,
): UploadStore {
  return new UploadFolder(dir, limits, now)
}
