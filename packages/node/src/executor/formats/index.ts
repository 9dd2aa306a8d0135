import { readFile, stat, writeFile } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import { ExecutorError } from '../errors.js'
import type { NamedTensors } from '../tensor.js'
import { decodeNpy, encodeNpy } from './npy.js'
import { decodeSafetensors, encodeSafetensors } from './safetensors.js'

export * from './npy.js'
export * from './safetensors.js'

export interface ReadTensorFilesOptions {
  /** refuse files larger than this many bytes */
  maxBytes?: number
  signal?: AbortSignal
}

/**
 * Reads named tensors from files: a `.safetensors` file gives all its tensors; a `.npy`
 * file gives one tensor named after the file (`input_ids.npy` -> `input_ids`).
 */
export async function readTensorFiles(
  paths: readonly string[],
  options: ReadTensorFilesOptions = {},
): Promise<NamedTensors> {
  const out: NamedTensors = {}
  for (const path of paths) {
    const bytes = await readLimited(path, options)
    const ext = extname(path).toLowerCase()
    if (ext === '.safetensors') {
      for (const [name, t] of Object.entries(decodeSafetensors(bytes).tensors)) {
        if (out[name])
          throw new ExecutorError('EXECUTOR_FORMAT_INVALID', `tensor ${name} appears in two input files`)
        out[name] = t
      }
    } else if (ext === '.npy') {
      const name = basename(path, extname(path))
      if (out[name])
        throw new ExecutorError('EXECUTOR_FORMAT_INVALID', `tensor ${name} appears in two input files`)
      out[name] = decodeNpy(bytes)
    } else {
      throw new ExecutorError('EXECUTOR_FORMAT_INVALID', `unknown tensor file type ${ext || '(none)'}`, {
        details: `${basename(path)}: use .safetensors or .npy`,
      })
    }
  }
  return out
}

/** Writes tensors as one .safetensors file, or (for a path ending in .npy) a single tensor. */
export async function writeTensorFile(
  path: string,
  tensors: NamedTensors,
  metadata?: Record<string, string>,
): Promise<void> {
  if (extname(path).toLowerCase() === '.npy') {
    const names = Object.keys(tensors)
    if (names.length !== 1) {
      throw new ExecutorError('EXECUTOR_FORMAT_INVALID', `a .npy file holds one tensor, not ${names.length}`)
    }
    await writeFile(path, encodeNpy(tensors[names[0]!]!))
  } else {
    await writeFile(path, encodeSafetensors(tensors, metadata))
  }
}

async function readLimited(path: string, options: ReadTensorFilesOptions): Promise<Uint8Array> {
  const size = (await stat(path)).size
  if (options.maxBytes !== undefined && size > options.maxBytes) {
    throw new ExecutorError('EXECUTOR_TENSOR_TOO_LARGE', `${basename(path)} is larger than allowed`, {
      details: `${size} bytes > ${options.maxBytes}`,
    })
  }
  const buf = await readFile(path, options.signal ? { signal: options.signal } : {})
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}
