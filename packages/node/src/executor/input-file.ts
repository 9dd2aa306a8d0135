/**
 * Inputs that process workers read from a file instead of receiving them over IPC.
 *
 * A child process cannot share memory with the pool, and sending each micro-batch's rows
 * over the IPC channel costs the pool's main thread a serialization, pipe writes and the
 * garbage of one buffer per message (measured: most of the main thread's CPU in an inference
 * job, on cores the workers need). So before an inference job's micro-batches go out, the
 * inputs whose micro-batch slices are one contiguous byte range (batch axis 0, or broadcast:
 * the whole tensor) are written once to a private temporary file; each micro-batch request
 * names its byte range, and the worker reads just those bytes (a page-cache copy). The bytes
 * are the same, so the results are the same bits.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { mkdtemp, open, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processAlive } from '../core/process.js'
import { ExecutorError } from './errors.js'
import type { InputAxes } from './input-axes.js'
import { dtypeSize, elementCount, type HostTensor, type NamedTensors } from './tensor.js'
import type { FileFeed } from './worker-protocol.js'

/** Inputs below this many bytes go over IPC as before: a file is not worth it. */
export const INPUT_FILE_MIN_BYTES = 1024 * 1024

/** The temporary folders are named `ocn-inputs-<pid of the writing process>-<random>`. */
const DIR_PREFIX = 'ocn-inputs-'

let swept: Promise<void> | undefined

/**
 * Removes the input folders of processes that no longer run: a node killed mid-job (SIGKILL,
 * a crash) never reaches its `remove`, and each folder holds a whole job's inputs. Folders of
 * live processes (other nodes on this machine) are left alone. Once per process, best effort.
 */
export async function sweepOrphanedInputDirs(parent = tmpdir()): Promise<string[]> {
  const removed: string[] = []
  const entries = await readdir(parent).catch(() => [] as string[])
  for (const name of entries) {
    const pid = Number(/^ocn-inputs-(\d+)-/.exec(name)?.[1])
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue
    await rm(join(parent, name), { recursive: true, force: true }).catch(() => {})
    removed.push(name)
  }
  return removed
}

function sweepOrphans(): Promise<void> {
  swept ??= sweepOrphanedInputDirs().then(() => {})
  return swept
}

/** The inputs written to a temporary file: where each one starts, and how to remove it. */
export interface InputFile {
  path: string
  /** byte offset of each written input's data in the file */
  offsets: Record<string, number>
  remove(): Promise<void>
}

/** The inputs whose micro-batch slices are contiguous: batch axis 0, or broadcast (whole). */
function contiguousInputs(inputs: NamedTensors, axes: InputAxes): string[] {
  return Object.keys(inputs).filter((name) => {
    const axis = axes[name] ?? 0
    return axis === 0 || axis === 'broadcast'
  })
}

/**
 * Writes the contiguous inputs to a new temporary file (mode 0600 in a 0700 directory), or
 * returns undefined when they are too small to be worth it. A failed write (a full disk)
 * also returns undefined: the micro-batches then go over IPC as before.
 */
export async function writeInputFile(inputs: NamedTensors, axes: InputAxes): Promise<InputFile | undefined> {
  const names = contiguousInputs(inputs, axes)
  const total = names.reduce((sum, n) => sum + inputs[n]!.data.byteLength, 0)
  if (total < INPUT_FILE_MIN_BYTES) return undefined
  await sweepOrphans()
  let dir: string | undefined
  try {
    dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`))
    const path = join(dir, 'inputs.bin')
    const offsets: Record<string, number> = {}
    const handle = await open(path, 'wx', 0o600)
    try {
      let at = 0
      for (const name of names) {
        const data = inputs[name]!.data
        offsets[name] = at
        let written = 0
        while (written < data.byteLength) {
          const r = await handle.write(data, written, data.byteLength - written, at + written)
          written += r.bytesWritten
        }
        at += data.byteLength
      }
    } finally {
      await handle.close()
    }
    const created = dir
    return { path, offsets, remove: () => rm(created, { recursive: true, force: true }) }
  } catch {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => {})
    return undefined
  }
}

/**
 * The file feeds of micro-batch [start, end) (rows along axis 0; broadcast inputs whole) for
 * the inputs in the file; the other inputs are left to the caller.
 */
export function fileFeedsOf(
  file: InputFile,
  inputs: NamedTensors,
  axes: InputAxes,
  start: number,
  end: number,
): Record<string, FileFeed> {
  const out: Record<string, FileFeed> = {}
  for (const [name, base] of Object.entries(file.offsets)) {
    const t = inputs[name]!
    if ((axes[name] ?? 0) === 'broadcast') {
      out[name] = { dtype: t.dtype, dims: t.dims, path: file.path, offset: base, length: t.data.byteLength }
      continue
    }
    const rowBytes = elementCount(t.dims.slice(1)) * dtypeSize(t.dtype)
    out[name] = {
      dtype: t.dtype,
      dims: [end - start, ...t.dims.slice(1)],
      path: file.path,
      offset: base + start * rowBytes,
      length: (end - start) * rowBytes,
    }
  }
  return out
}

/** In the worker: the feed's bytes, read from its file (a short read is an error, not zeros). */
export function readFileFeed(feed: FileFeed): HostTensor {
  const want = elementCount(feed.dims) * dtypeSize(feed.dtype)
  if (want !== feed.length) {
    throw new ExecutorError('EXECUTOR_RUN_FAILED', 'an input file range does not match its tensor shape', {
      details: `${feed.length} bytes for [${feed.dims.join(', ')}] ${feed.dtype}`,
    })
  }
  const data = new Uint8Array(feed.length)
  const fd = openSync(feed.path, 'r')
  try {
    let read = 0
    while (read < feed.length) {
      const n = readSync(fd, data, read, feed.length - read, feed.offset + read)
      if (n === 0) {
        throw new ExecutorError('EXECUTOR_RUN_FAILED', 'the inputs file ended before the micro-batch', {
          details: `${feed.path}: ${read} of ${feed.length} bytes at ${feed.offset}`,
        })
      }
      read += n
    }
  } finally {
    closeSync(fd)
  }
  return { dtype: feed.dtype, dims: feed.dims, data }
}

export type { FileFeed }
