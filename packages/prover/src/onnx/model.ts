/**
 * The subset of ONNX's ModelProto that OCN reads and writes: the graph (nodes,
 * initializers, inputs, outputs, value infos), opset imports and metadata. Field numbers
 * are ONNX's public wire format; unknown fields are skipped on decode, so models from
 * newer exporters still load as long as the parts we use are there.
 *
 * Tensor payloads are normalised to little-endian raw bytes whatever the exporter used
 * (raw_data, float_data, int32_data, int64_data, double_data, uint64_data), so one
 * representation serves hashing, quantisation and re-encoding.
 */
import { OnnxError } from './errors.js'
import { ProtoReader, ProtoWriter, WireType } from './wire.js'

export type OnnxDType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'bfloat16'

/** ONNX TensorProto.DataType codes. */
export const onnxDataTypeCode: Readonly<Record<OnnxDType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
}

const dtypeByCode = new Map<number, OnnxDType>(
  Object.entries(onnxDataTypeCode).map(([k, v]) => [v, k as OnnxDType]),
)

export function dtypeFromCode(code: number): OnnxDType | undefined {
  return dtypeByCode.get(code)
}

/** Bytes per element; 0 for strings. */
export function dtypeByteSize(dtype: OnnxDType): number {
  switch (dtype) {
    case 'uint8':
    case 'int8':
    case 'bool':
      return 1
    case 'uint16':
    case 'int16':
    case 'float16':
    case 'bfloat16':
      return 2
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4
    case 'float64':
    case 'int64':
    case 'uint64':
      return 8
    case 'string':
      return 0
  }
}

export interface OnnxTensor {
  name: string
  dataType: OnnxDType
  dims: number[]
  /** little-endian element bytes (empty for string tensors) */
  data: Uint8Array
  /** string tensors only */
  strings?: Uint8Array[]
}

/** A dimension: a fixed size, a symbolic name (dynamic axis), or unknown. */
export type OnnxDim = number | string | null

export interface OnnxValueInfo {
  name: string
  /** undefined when the value is not a tensor (sequence, map, ...) or carries no type */
  elemType: OnnxDType | undefined
  /** undefined when the rank itself is unknown */
  shape: OnnxDim[] | undefined
}

export type OnnxAttribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: bigint }
  | { name: string; type: 'string'; value: Uint8Array }
  | { name: string; type: 'tensor'; value: OnnxTensor }
  | { name: string; type: 'graph'; value: OnnxGraph }
  | { name: string; type: 'floats'; value: number[] }
  | { name: string; type: 'ints'; value: bigint[] }
  | { name: string; type: 'strings'; value: Uint8Array[] }

export interface OnnxNode {
  name: string
  opType: string
  domain: string
  inputs: string[]
  outputs: string[]
  attributes: OnnxAttribute[]
}

export interface OnnxGraph {
  name: string
  nodes: OnnxNode[]
  initializers: OnnxTensor[]
  inputs: OnnxValueInfo[]
  outputs: OnnxValueInfo[]
  valueInfo: OnnxValueInfo[]
  docString: string
}

export interface OnnxOpsetImport {
  domain: string
  version: number
}

export interface OnnxModel {
  irVersion: number
  opsetImports: OnnxOpsetImport[]
  producerName: string
  producerVersion: string
  domain: string
  modelVersion: number
  docString: string
  graph: OnnxGraph
  metadata: { key: string; value: string }[]
}

// ---------------------------------------------------------------- decoding

export interface DecodeOnnxOptions {
  /** refuse models whose serialized size exceeds this (bytes) */
  maxBytes?: number
}

export function decodeOnnxModel(bytes: Uint8Array, options: DecodeOnnxOptions = {}): OnnxModel {
  if (options.maxBytes !== undefined && bytes.length > options.maxBytes) {
    throw new OnnxError('ONNX_DECODE', 'ONNX model is larger than allowed', {
      details: `${bytes.length} bytes > limit ${options.maxBytes}`,
    })
  }
  const r = new ProtoReader(bytes)
  const model: OnnxModel = {
    irVersion: 0,
    opsetImports: [],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph: emptyGraph(),
    metadata: [],
  }
  let sawGraph = false
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.varint) model.irVersion = r.int()
    else if (field === 2 && wt === WireType.bytes) model.producerName = r.string()
    else if (field === 3 && wt === WireType.bytes) model.producerVersion = r.string()
    else if (field === 4 && wt === WireType.bytes) model.domain = r.string()
    else if (field === 5 && wt === WireType.varint) model.modelVersion = r.int()
    else if (field === 6 && wt === WireType.bytes) model.docString = r.string()
    else if (field === 7 && wt === WireType.bytes) {
      model.graph = decodeGraph(r.sub())
      sawGraph = true
    } else if (field === 8 && wt === WireType.bytes) model.opsetImports.push(decodeOpset(r.sub()))
    else if (field === 14 && wt === WireType.bytes) model.metadata.push(decodeStringPair(r.sub()))
    else r.skip(wt)
  }
  if (!sawGraph) throw new OnnxError('ONNX_DECODE', 'ONNX model has no graph')
  return model
}

function emptyGraph(): OnnxGraph {
  return { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [], docString: '' }
}

function decodeOpset(r: ProtoReader): OnnxOpsetImport {
  const o: OnnxOpsetImport = { domain: '', version: 0 }
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.bytes) o.domain = r.string()
    else if (field === 2 && wt === WireType.varint) o.version = r.int()
    else r.skip(wt)
  }
  return o
}

function decodeStringPair(r: ProtoReader): { key: string; value: string } {
  const o = { key: '', value: '' }
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.bytes) o.key = r.string()
    else if (field === 2 && wt === WireType.bytes) o.value = r.string()
    else r.skip(wt)
  }
  return o
}

function decodeGraph(r: ProtoReader): OnnxGraph {
  const g = emptyGraph()
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.bytes) g.nodes.push(decodeNode(r.sub()))
    else if (field === 2 && wt === WireType.bytes) g.name = r.string()
    else if (field === 5 && wt === WireType.bytes) g.initializers.push(decodeTensor(r.sub()))
    else if (field === 10 && wt === WireType.bytes) g.docString = r.string()
    else if (field === 11 && wt === WireType.bytes) g.inputs.push(decodeValueInfo(r.sub()))
    else if (field === 12 && wt === WireType.bytes) g.outputs.push(decodeValueInfo(r.sub()))
    else if (field === 13 && wt === WireType.bytes) g.valueInfo.push(decodeValueInfo(r.sub()))
    else if (field === 15 && wt === WireType.bytes) {
      throw new OnnxError('ONNX_UNSUPPORTED', 'sparse initializers are not supported')
    } else r.skip(wt)
  }
  return g
}

function decodeNode(r: ProtoReader): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] }
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.bytes) n.inputs.push(r.string())
    else if (field === 2 && wt === WireType.bytes) n.outputs.push(r.string())
    else if (field === 3 && wt === WireType.bytes) n.name = r.string()
    else if (field === 4 && wt === WireType.bytes) n.opType = r.string()
    else if (field === 5 && wt === WireType.bytes) n.attributes.push(decodeAttribute(r.sub()))
    else if (field === 7 && wt === WireType.bytes) n.domain = r.string()
    else r.skip(wt)
  }
  return n
}

// AttributeProto.AttributeType codes
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const

function decodeAttribute(r: ProtoReader): OnnxAttribute {
  let name = ''
  let type = 0
  let f = 0
  let i = 0n
  let s: Uint8Array = new Uint8Array()
  let t: OnnxTensor | undefined
  let g: OnnxGraph | undefined
  const floats: number[] = []
  const ints: bigint[] = []
  const strings: Uint8Array[] = []
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.bytes) name = r.string()
    else if (field === 20 && wt === WireType.varint) type = r.int32()
    else if (field === 2 && wt === WireType.fixed32) f = r.float32()
    else if (field === 3 && wt === WireType.varint) i = r.int64()
    else if (field === 4 && wt === WireType.bytes) s = r.bytes()
    else if (field === 5 && wt === WireType.bytes) t = decodeTensor(r.sub())
    else if (field === 6 && wt === WireType.bytes) g = decodeGraph(r.sub())
    else if (field === 7) r.repeated(wt, floats, (x) => x.float32())
    else if (field === 8) r.repeated(wt, ints, (x) => x.int64())
    else if (field === 9 && wt === WireType.bytes) strings.push(r.bytes())
    else r.skip(wt)
  }
  switch (type) {
    case ATTR.FLOAT:
      return { name, type: 'float', value: f }
    case ATTR.INT:
      return { name, type: 'int', value: i }
    case ATTR.STRING:
      return { name, type: 'string', value: s }
    case ATTR.TENSOR:
      if (!t) throw new OnnxError('ONNX_DECODE', `tensor attribute ${name} has no tensor`)
      return { name, type: 'tensor', value: t }
    case ATTR.GRAPH:
      if (!g) throw new OnnxError('ONNX_DECODE', `graph attribute ${name} has no graph`)
      return { name, type: 'graph', value: g }
    case ATTR.FLOATS:
      return { name, type: 'floats', value: floats }
    case ATTR.INTS:
      return { name, type: 'ints', value: ints }
    case ATTR.STRINGS:
      return { name, type: 'strings', value: strings }
    default:
      throw new OnnxError('ONNX_UNSUPPORTED', `attribute ${name} has unsupported type ${type}`)
  }
}

function decodeValueInfo(r: ProtoReader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: undefined, shape: undefined }
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.bytes) v.name = r.string()
    else if (field === 2 && wt === WireType.bytes) decodeType(r.sub(), v)
    else r.skip(wt)
  }
  return v
}

function decodeType(r: ProtoReader, into: OnnxValueInfo): void {
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.bytes) {
      // TypeProto.Tensor
      const t = r.sub()
      while (!t.done) {
        const [tf, twt] = t.tag()
        if (tf === 1 && twt === WireType.varint) into.elemType = dtypeFromCode(t.int32())
        else if (tf === 2 && twt === WireType.bytes) into.shape = decodeShape(t.sub())
        else t.skip(twt)
      }
    } else r.skip(wt)
  }
}

function decodeShape(r: ProtoReader): OnnxDim[] {
  const dims: OnnxDim[] = []
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1 && wt === WireType.bytes) {
      const d = r.sub()
      let dim: OnnxDim = null
      while (!d.done) {
        const [df, dwt] = d.tag()
        if (df === 1 && dwt === WireType.varint) dim = d.int()
        else if (df === 2 && dwt === WireType.bytes) dim = d.string()
        else d.skip(dwt)
      }
      dims.push(dim)
    } else r.skip(wt)
  }
  return dims
}

function decodeTensor(r: ProtoReader): OnnxTensor {
  let name = ''
  let code = 0
  const dims: bigint[] = []
  let raw: Uint8Array | undefined
  const floatData: number[] = []
  const int32Data: number[] = []
  const int64Data: bigint[] = []
  const doubleData: number[] = []
  const uint64Data: bigint[] = []
  const strings: Uint8Array[] = []
  let external = false
  while (!r.done) {
    const [field, wt] = r.tag()
    if (field === 1) r.repeated(wt, dims, (x) => x.int64())
    else if (field === 2 && wt === WireType.varint) code = r.int32()
    else if (field === 3) throw new OnnxError('ONNX_UNSUPPORTED', 'segmented tensors are not supported')
    else if (field === 4) r.repeated(wt, floatData, (x) => x.float32())
    else if (field === 5) r.repeated(wt, int32Data, (x) => x.int32())
    else if (field === 6 && wt === WireType.bytes) strings.push(r.bytes())
    else if (field === 7) r.repeated(wt, int64Data, (x) => x.int64())
    else if (field === 8 && wt === WireType.bytes) name = r.string()
    else if (field === 9 && wt === WireType.bytes) raw = r.bytes()
    else if (field === 10) r.repeated(wt, doubleData, (x) => x.float64())
    else if (field === 11) r.repeated(wt, uint64Data, (x) => x.varint())
    else if (field === 13 && wt === WireType.bytes) {
      external = true
      r.skip(wt)
    } else if (field === 14 && wt === WireType.varint) {
      if (r.int32() === 1) external = true
    } else r.skip(wt)
  }
  if (external) {
    throw new OnnxError('ONNX_UNSUPPORTED', `tensor ${name} keeps its data in an external file`, {
      details: 'ship the model with its weights embedded (a single .onnx file)',
    })
  }
  const dataType = dtypeFromCode(code)
  if (!dataType) throw new OnnxError('ONNX_UNSUPPORTED', `tensor ${name} has unsupported data type ${code}`)
  for (const d of dims) {
    if (d < 0n || d > 0xffff_ffffn) throw new OnnxError('ONNX_TENSOR', `tensor ${name} has dimension ${d}`)
  }
  const shape = dims.map(Number)
  const count = shape.reduce((a, b) => a * b, 1)
  if (dataType === 'string') {
    if (strings.length !== count) {
      throw new OnnxError('ONNX_TENSOR', `string tensor ${name} holds ${strings.length} values for ${count}`)
    }
    return { name, dataType, dims: shape, data: new Uint8Array(), strings }
  }
  const size = dtypeByteSize(dataType)
  let data: Uint8Array
  // a copy, never a view: a Node Buffer's slice() shares the pooled memory
  if (raw !== undefined) data = new Uint8Array(raw)
  else {
    data = new Uint8Array(count * size)
    const view = new DataView(data.buffer)
    const put = (values: ArrayLike<number | bigint>, write: (i: number, v: number | bigint) => void) => {
      if (values.length !== count) {
        throw new OnnxError('ONNX_TENSOR', `tensor ${name} holds ${values.length} values for ${count}`)
      }
      for (let i = 0; i < count; i++) write(i, values[i]!)
    }
    switch (dataType) {
      case 'float32':
        put(floatData, (i, v) => view.setFloat32(i * 4, Number(v), true))
        break
      case 'float64':
        put(doubleData, (i, v) => view.setFloat64(i * 8, Number(v), true))
        break
      case 'int64':
        put(int64Data, (i, v) => view.setBigInt64(i * 8, BigInt(v), true))
        break
      case 'uint64':
        put(uint64Data, (i, v) => view.setBigUint64(i * 8, BigInt(v), true))
        break
      case 'uint32':
        put(uint64Data, (i, v) => view.setUint32(i * 4, Number(v), true))
        break
      case 'int32':
        put(int32Data, (i, v) => view.setInt32(i * 4, Number(v), true))
        break
      case 'int16':
        put(int32Data, (i, v) => view.setInt16(i * 2, Number(v), true))
        break
      case 'uint16':
      case 'float16':
      case 'bfloat16':
        put(int32Data, (i, v) => view.setUint16(i * 2, Number(v), true))
        break
      case 'int8':
        put(int32Data, (i, v) => view.setInt8(i, Number(v)))
        break
      case 'uint8':
      case 'bool':
        put(int32Data, (i, v) => view.setUint8(i, Number(v)))
        break
    }
  }
  if (data.length !== count * size) {
    throw new OnnxError('ONNX_TENSOR', `tensor ${name} has ${data.length} bytes for ${count} x ${size}`)
  }
  return { name, dataType, dims: shape, data }
}

// ---------------------------------------------------------------- encoding

export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new ProtoWriter()
  w.varintField(1, model.irVersion)
  if (model.producerName) w.stringField(2, model.producerName)
  if (model.producerVersion) w.stringField(3, model.producerVersion)
  if (model.domain) w.stringField(4, model.domain)
  if (model.modelVersion) w.varintField(5, model.modelVersion)
  if (model.docString) w.stringField(6, model.docString)
  w.messageField(7, (g) => encodeGraph(g, model.graph))
  for (const o of model.opsetImports) {
    w.messageField(8, (x) => {
      if (o.domain) x.stringField(1, o.domain)
      x.varintField(2, o.version)
    })
  }
  for (const m of model.metadata) {
    w.messageField(14, (x) => {
      x.stringField(1, m.key)
      x.stringField(2, m.value)
    })
  }
  return w.finish()
}

function encodeGraph(w: ProtoWriter, g: OnnxGraph): void {
  for (const n of g.nodes) w.messageField(1, (x) => encodeNode(x, n))
  if (g.name) w.stringField(2, g.name)
  for (const t of g.initializers) w.messageField(5, (x) => encodeTensor(x, t))
  if (g.docString) w.stringField(10, g.docString)
  for (const v of g.inputs) w.messageField(11, (x) => encodeValueInfo(x, v))
  for (const v of g.outputs) w.messageField(12, (x) => encodeValueInfo(x, v))
  for (const v of g.valueInfo) w.messageField(13, (x) => encodeValueInfo(x, v))
}

function encodeNode(w: ProtoWriter, n: OnnxNode): void {
  for (const i of n.inputs) w.stringField(1, i)
  for (const o of n.outputs) w.stringField(2, o)
  if (n.name) w.stringField(3, n.name)
  w.stringField(4, n.opType)
  for (const a of n.attributes) w.messageField(5, (x) => encodeAttribute(x, a))
  if (n.domain) w.stringField(7, n.domain)
}

function encodeAttribute(w: ProtoWriter, a: OnnxAttribute): void {
  w.stringField(1, a.name)
  switch (a.type) {
    case 'float':
      w.float32Field(2, a.value)
      w.varintField(20, ATTR.FLOAT)
      break
    case 'int':
      w.varintField(3, a.value)
      w.varintField(20, ATTR.INT)
      break
    case 'string':
      w.bytesField(4, a.value)
      w.varintField(20, ATTR.STRING)
      break
    case 'tensor':
      w.messageField(5, (x) => encodeTensor(x, a.value))
      w.varintField(20, ATTR.TENSOR)
      break
    case 'graph':
      w.messageField(6, (x) => encodeGraph(x, a.value))
      w.varintField(20, ATTR.GRAPH)
      break
    case 'floats':
      w.packedFloats(7, a.value)
      w.varintField(20, ATTR.FLOATS)
      break
    case 'ints':
      w.packedVarints(8, a.value)
      w.varintField(20, ATTR.INTS)
      break
    case 'strings':
      for (const s of a.value) w.bytesField(9, s)
      w.varintField(20, ATTR.STRINGS)
      break
  }
}

function encodeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.stringField(1, v.name)
  if (v.elemType === undefined) return
  const elemType = v.elemType
  w.messageField(2, (type) =>
    type.messageField(1, (t) => {
      t.varintField(1, onnxDataTypeCode[elemType])
      if (v.shape === undefined) return
      const shape = v.shape
      t.messageField(2, (s) => {
        for (const d of shape) {
          s.messageField(1, (dim) => {
            if (typeof d === 'number') dim.varintField(1, d)
            else if (typeof d === 'string') dim.stringField(2, d)
          })
        }
      })
    }),
  )
}

function encodeTensor(w: ProtoWriter, t: OnnxTensor): void {
  w.packedVarints(1, t.dims)
  w.varintField(2, onnxDataTypeCode[t.dataType])
  if (t.dataType === 'string') for (const s of t.strings ?? []) w.bytesField(6, s)
  if (t.name) w.stringField(8, t.name)
  if (t.dataType !== 'string') w.bytesField(9, t.data)
}
