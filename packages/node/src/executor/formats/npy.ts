/**
 * NumPy .npy (format versions 1.0, 2.0, 3.0): magic "\x93NUMPY", version, header length
 * (u16 for 1.0, u32 after), an ASCII Python dict `{'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 3), }` padded to a multiple of 64 bytes, then the C-order data.
 * Big-endian arrays are byte-swapped on read; Fortran-order arrays are refused.
 * The writer emits version 1.0 (2.0 when the header needs it), little-endian.
 */
import { ExecutorError } from '../errors.js'
import { dtypeSize, elementCount, type HostTensor, type TensorDType } from '../tensor.js'

const kindByDType: Record<TensorDType, string> = {
  float32: 'f4',
  float16: 'f2',
  float64: 'f8',
  int64: 'i8',
  int32: 'i4',
  int16: 'i2',
  int8: 'i1',
  uint64: 'u8',
  uint32: 'u4',
  uint16: 'u2',
  uint8: 'u1',
  bool: 'b1',
}
const dtypeByKind = new Map(Object.entries(kindByDType).map(([k, v]) => [v, k as TensorDType]))
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]

function invalid(shortMessage: string, details?: string): ExecutorError {
  return new ExecutorError('EXECUTOR_FORMAT_INVALID', `invalid .npy file: ${shortMessage}`, { details })
}

export function decodeNpy(bytes: Uint8Array): HostTensor {
  if (bytes.byteLength < 10 || !MAGIC.every((b, i) => bytes[i] === b))
    throw invalid('missing the \\x93NUMPY magic')
  const major = bytes[6]!
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let headerLen: number
  let start: number
  if (major === 1) {
    headerLen = view.getUint16(8, true)
    start = 10
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw invalid('truncated header')
    headerLen = view.getUint32(8, true)
    start = 12
  } else throw invalid(`unsupported format version ${major}`)
  if (start + headerLen > bytes.byteLength) throw invalid('header runs past the file')
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(start, start + headerLen),
  )
  const descr = /'descr'\s*:\s*'([<>|=])([a-z])(\d+)'/.exec(header)
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)
  if (!descr || !fortran || !shape)
    throw invalid('header lacks descr, fortran_order or shape', header.slice(0, 200))
  if (fortran[1] === 'True')
    throw invalid('Fortran-order arrays are not supported; save with np.ascontiguousarray')
  const kind = `${descr[2]}${descr[3]}`
  const dtype = dtypeByKind.get(kind)
  if (!dtype) throw invalid(`unsupported dtype ${descr[0]}`)
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')))
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw invalid(`invalid shape (${shape[1]})`)
  const size = dtypeSize(dtype)
  const n = elementCount(dims) * size
  const dataStart = start + headerLen
  if (bytes.byteLength - dataStart !== n) {
    throw invalid(
      `holds ${bytes.byteLength - dataStart} data bytes, shape (${dims.join(', ')}) ${dtype} needs ${n}`,
    )
  }
  let data = bytes.subarray(dataStart)
  if (descr[1] === '>' && size > 1) {
    data = data.slice()
    for (let i = 0; i < data.length; i += size) data.subarray(i, i + size).reverse()
  }
  return { dtype, dims, data }
}

export function encodeNpy(t: HostTensor): Uint8Array {
  const endian = dtypeSize(t.dtype) === 1 ? '|' : '<'
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`
  const dict = `{'descr': '${endian}${kindByDType[t.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`
  let prefix = 10
  let total = Math.ceil((prefix + dict.length + 1) / 64) * 64
  if (total - prefix > 0xffff) {
    prefix = 12
    total = Math.ceil((prefix + dict.length + 1) / 64) * 64
  }
  const header = dict + ' '.repeat(total - prefix - dict.length - 1) + '\n'
  const out = new Uint8Array(total + t.data.byteLength)
  out.set(MAGIC, 0)
  out[6] = prefix === 10 ? 1 : 2
  out[7] = 0
  const view = new DataView(out.buffer)
  if (prefix === 10) view.setUint16(8, header.length, true)
  else view.setUint32(8, header.length, true)
  out.set(new TextEncoder().encode(header), prefix)
  out.set(t.data, total)
  return out
}
