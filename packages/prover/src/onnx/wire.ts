/**
 * A minimal protobuf wire-format reader and writer: just what the ONNX subset needs
 * (varints, 32/64-bit fixed, length-delimited fields, packed repeated scalars).
 *
 * Hand-written rather than generated so the decoder can enforce our own limits (nesting
 * depth, truncation) and report a typed error with the byte offset on corrupt input.
 */
import { OnnxError } from './errors.js'

export const WireType = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const

const MAX_DEPTH = 64
const textDecoder = new TextDecoder('utf-8', { fatal: true })
const textEncoder = new TextEncoder()

export class ProtoReader {
  pos: number
  readonly end: number

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
    readonly depth = 0,
  ) {
    if (depth > MAX_DEPTH) throw corrupt('message nesting is deeper than ' + MAX_DEPTH, start)
    this.pos = start
    this.end = end
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  /** Returns [fieldNumber, wireType]. */
  tag(): [number, number] {
    const key = this.varint()
    const field = Number(key >> 3n)
    if (field === 0) throw corrupt('field number 0', this.pos)
    return [field, Number(key & 7n)]
  }

  varint(): bigint {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw corrupt('truncated varint', this.pos)
      const b = this.buf[this.pos++]!
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return result & 0xffff_ffff_ffff_ffffn
      shift += 7n
    }
    throw corrupt('varint longer than 10 bytes', this.pos)
  }

  /** A varint read as a signed 64-bit integer (int64 fields). */
  int64(): bigint {
    return BigInt.asIntN(64, this.varint())
  }

  /** A varint read as a JS number, refusing values beyond 2^53. */
  int(): number {
    const v = this.int64()
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw corrupt('integer out of the safe range', this.pos)
    }
    return Number(v)
  }

  /** An int32 field: negative values are sign-extended to 64 bits on the wire. */
  int32(): number {
    return Number(BigInt.asIntN(32, this.varint()))
  }

  lengthDelimited(): [number, number] {
    const len = Number(this.varint())
    const start = this.pos
    if (len < 0 || start + len > this.end)
      throw corrupt('length-delimited field runs past its message', start)
    this.pos = start + len
    return [start, start + len]
  }

  bytes(): Uint8Array {
    const [s, e] = this.lengthDelimited()
    return this.buf.subarray(s, e)
  }

  string(): string {
    try {
      return textDecoder.decode(this.bytes())
    } catch (cause) {
      throw corrupt('string field is not valid UTF-8', this.pos, cause)
    }
  }

  sub(): ProtoReader {
    const [s, e] = this.lengthDelimited()
    return new ProtoReader(this.buf, s, e, this.depth + 1)
  }

  float32(): number {
    if (this.pos + 4 > this.end) throw corrupt('truncated fixed32', this.pos)
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true)
    this.pos += 4
    return v
  }

  float64(): number {
    if (this.pos + 8 > this.end) throw corrupt('truncated fixed64', this.pos)
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true)
    this.pos += 8
    return v
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WireType.varint:
        this.varint()
        return
      case WireType.fixed64:
        this.pos += 8
        break
      case WireType.bytes:
        this.lengthDelimited()
        return
      case WireType.fixed32:
        this.pos += 4
        break
      default:
        throw corrupt(`unsupported wire type ${wireType}`, this.pos)
    }
    if (this.pos > this.end) throw corrupt('truncated fixed-width field', this.pos)
  }

  /** Reads a repeated scalar that may be packed (wire type 2) or not. */
  repeated<T>(wireType: number, out: T[], one: (r: ProtoReader) => T): void {
    if (wireType === WireType.bytes) {
      const sub = this.sub()
      while (!sub.done) out.push(one(sub))
    } else {
      out.push(one(this))
    }
  }
}

function corrupt(what: string, offset: number, cause?: unknown): OnnxError {
  return new OnnxError('ONNX_DECODE', `corrupt ONNX protobuf: ${what}`, {
    details: `at byte ${offset}`,
    ...(cause === undefined ? {} : { cause }),
  })
}

/** Grows a byte buffer as fields are appended. */
export class ProtoWriter {
  private buf = new Uint8Array(256)
  private len = 0

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len)
  }

  rawVarint(value: bigint): void {
    let v = BigInt.asUintN(64, value)
    this.ensure(10)
    do {
      let b = Number(v & 0x7fn)
      v >>= 7n
      if (v !== 0n) b |= 0x80
      this.buf[this.len++] = b
    } while (v !== 0n)
  }

  private key(field: number, wireType: number): void {
    this.rawVarint(BigInt(field) * 8n + BigInt(wireType))
  }

  /** int32/int64/enum/bool fields; negative numbers are written as 10-byte two's complement. */
  varintField(field: number, value: number | bigint): void {
    this.key(field, WireType.varint)
    this.rawVarint(BigInt(value))
  }

  bytesField(field: number, value: Uint8Array): void {
    this.key(field, WireType.bytes)
    this.rawVarint(BigInt(value.length))
    this.ensure(value.length)
    this.buf.set(value, this.len)
    this.len += value.length
  }

  stringField(field: number, value: string): void {
    this.bytesField(field, textEncoder.encode(value))
  }

  messageField(field: number, write: (w: ProtoWriter) => void): void {
    const sub = new ProtoWriter()
    write(sub)
    this.bytesField(field, sub.finish())
  }

  float32Field(field: number, value: number): void {
    this.key(field, WireType.fixed32)
    this.ensure(4)
    new DataView(this.buf.buffer, this.len, 4).setFloat32(0, value, true)
    this.len += 4
  }

  packedVarints(field: number, values: readonly (number | bigint)[]): void {
    if (values.length === 0) return
    const sub = new ProtoWriter()
    for (const v of values) sub.rawVarint(BigInt(v))
    this.bytesField(field, sub.finish())
  }

  packedFloats(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return
    const bytes = new Uint8Array(values.length * 4)
    const view = new DataView(bytes.buffer)
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true)
    this.bytesField(field, bytes)
  }
}
