/**
 * safetensors (Hugging Face's format): u64 little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {string: string} }`,
 * then the tensor bytes (little-endian, row-major), offsets relative to the data start.
 *
 * The reader checks everything a hostile file could get wrong: header size, JSON shape,
 * offsets in bounds, non-overlapping and covering the data exactly, byte counts matching
 * the shapes. The writer emits names in sorted order, so equal tensors give equal files.
 */
import { ExecutorError } from '../errors.js'
import { dtypeSize, elementCount, type HostTensor, type NamedTensors, type TensorDType } from '../tensor.js'

const codeByDType: Record<TensorDType, string> = {
  float32: 'F32',
  float16: 'F16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint64: 'U64',
  uint32: 'U32',
  uint16: 'U16',
  uint8: 'U8',
  bool: 'BOOL',
}
const dtypeByCode = new Map(Object.entries(codeByDType).map(([k, v]) => [v, k as TensorDType]))

/** The format's own cap on the header (100 MB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000
/**
 * Our default cap: 16 MB of JSON describes ~100k tensors, far more than real files hold,
 * while a hostile 100 MB header would make JSON.parse allocate gigabytes of heap.
 */
export const SAFETENSORS_DEFAULT_HEADER_LIMIT = 16 * 1024 * 1024

function invalid(shortMessage: string, details?: string): ExecutorError {
  return new ExecutorError('EXECUTOR_FORMAT_INVALID', `invalid safetensors file: ${shortMessage}`, {
    details,
  })
}

export interface SafetensorsFile {
  tensors: NamedTensors
  metadata: Record<string, string>
}

export function decodeSafetensors(
  bytes: Uint8Array,
  options: { maxHeaderBytes?: number } = {},
): SafetensorsFile {
  if (bytes.byteLength < 8) throw invalid('shorter than its 8-byte header length')
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (headerLen > BigInt(bytes.byteLength - 8)) {
    throw invalid(
      'header length runs past the file',
      `header length ${headerLen}, file ${bytes.byteLength} bytes`,
    )
  }
  const limit = Math.min(
    SAFETENSORS_MAX_HEADER_BYTES,
    options.maxHeaderBytes ?? SAFETENSORS_DEFAULT_HEADER_LIMIT,
  )
  if (headerLen > BigInt(limit))
    throw invalid('header is larger than allowed', `${headerLen} bytes > ${limit}`)
  const hl = Number(headerLen)
  let header: unknown
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hl)))
  } catch (cause) {
    throw new ExecutorError('EXECUTOR_FORMAT_INVALID', 'invalid safetensors file: header is not JSON', {
      cause,
    })
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw invalid('header is not an object')
  const data = bytes.subarray(8 + hl)
  const tensors: NamedTensors = {}
  const metadata: Record<string, string> = {}
  const spans: [number, number, string][] = []
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) throw invalid('__metadata__ is not an object')
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw invalid(`metadata ${k} is not a string`)
        metadata[k] = v
      }
      continue
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
    const dtype = typeof e.dtype === 'string' ? dtypeByCode.get(e.dtype) : undefined
    if (!dtype) throw invalid(`tensor ${name} has unsupported dtype ${String(e.dtype)}`)
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw invalid(`tensor ${name} has an invalid shape`)
    }
    const offsets = e.data_offsets
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      throw invalid(`tensor ${name} has invalid data_offsets`)
    }
    const [begin, end] = offsets as [number, number]
    if (begin > end || end > data.byteLength) throw invalid(`tensor ${name} lies outside the data`)
    const dims = e.shape as number[]
    if (end - begin !== elementCount(dims) * dtypeSize(dtype)) {
      throw invalid(`tensor ${name} has ${end - begin} bytes for shape [${dims.join(', ')}] ${dtype}`)
    }
    spans.push([begin, end, name])
    tensors[name] = { dtype, dims, data: data.subarray(begin, end) }
  }
  spans.sort((a, b) => a[0] - b[0])
  let cursor = 0
  for (const [begin, end, name] of spans) {
    if (begin !== cursor) throw invalid(`tensor ${name} overlaps another or leaves a gap`)
    cursor = end
  }
  if (cursor !== data.byteLength) throw invalid('trailing bytes after the last tensor')
  return { tensors, metadata }
}

export function encodeSafetensors(tensors: NamedTensors, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort()
  const header: Record<string, unknown> = {}
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata
  let offset = 0
  for (const name of names) {
    const t = tensors[name]!
    header[name] = {
      dtype: codeByDType[t.dtype],
      shape: t.dims,
      data_offsets: [offset, offset + t.data.byteLength],
    }
    offset += t.data.byteLength
  }
  let json = new TextEncoder().encode(JSON.stringify(header))
  // pad with spaces so the data starts 8-byte aligned, as the reference writer does
  const pad = (8 - (json.byteLength % 8)) % 8
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad))
  const out = new Uint8Array(8 + json.byteLength + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true)
  out.set(json, 8)
  let o = 8 + json.byteLength
  for (const name of names) {
    const t: HostTensor = tensors[name]!
    out.set(t.data, o)
    o += t.data.byteLength
  }
  return out
}
