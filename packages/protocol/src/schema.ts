/**
 * A small, strict schema language for wire messages: each field has one TypeScript form
 * (hex strings, bigints, numbers: what viem and the rest of the code use) and one wire
 * form (CBOR bytes and integers: compact and unambiguous). `toWire` and `fromWire` map
 * between them; `fromWire` is where untrusted data gets checked, field by field, and it
 * throws nothing but `ProtocolError`.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { bytesToHex, getAddress, type Hex, hexToBytes, isHex } from 'viem'
import { ProtocolError, ProtocolErrorCode } from './errors.js'

export type Field =
  | { kind: 'uint'; max: number }
  | { kind: 'biguint'; bits: number }
  | { kind: 'fixedBytes'; length: number }
  | { kind: 'address' }
  | { kind: 'bytes'; maxLength: number }
  | { kind: 'hexBytes'; maxLength: number }
  | { kind: 'string'; maxLength: number; pattern?: RegExp }
  | { kind: 'peerId' }
  | { kind: 'bool' }
  | { kind: 'literal'; value: number }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; item: Field; maxItems: number }
  | { kind: 'struct'; fields: Record<string, Field> }
  | { kind: 'optional'; inner: Field }

export const f = {
  uint: (max: number = Number.MAX_SAFE_INTEGER): Field => ({ kind: 'uint', max }),
  u8: (): Field => ({ kind: 'uint', max: 0xff }),
  u32: (): Field => ({ kind: 'uint', max: 0xffff_ffff }),
  biguint: (bits: number): Field => ({ kind: 'biguint', bits }),
  bytes32: (): Field => ({ kind: 'fixedBytes', length: 32 }),
  fixedBytes: (length: number): Field => ({ kind: 'fixedBytes', length }),
  address: (): Field => ({ kind: 'address' }),
  bytes: (maxLength: number): Field => ({ kind: 'bytes', maxLength }),
  /** variable-length bytes: hex in TypeScript, bytes on the wire */
  hexBytes: (maxLength: number): Field => ({ kind: 'hexBytes', maxLength }),
  string: (maxLength: number, pattern?: RegExp): Field =>
    pattern === undefined ? { kind: 'string', maxLength } : { kind: 'string', maxLength, pattern },
  peerId: (): Field => ({ kind: 'peerId' }),
  bool: (): Field => ({ kind: 'bool' }),
  literal: (value: number): Field => ({ kind: 'literal', value }),
  enum: (values: readonly string[]): Field => ({ kind: 'enum', values }),
  list: (item: Field, maxItems: number): Field => ({ kind: 'list', item, maxItems }),
  struct: (fields: Record<string, Field>): Field => ({ kind: 'struct', fields }),
  optional: (inner: Field): Field => ({ kind: 'optional', inner }),
}

const MAX_PEER_ID_LENGTH = 128

function schemaError(path: string, details: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.INVALID_SCHEMA, `invalid field ${path || '<root>'}`, { details })
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    return false
  }
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

// Parsing a peer id builds its public key (~0.15 ms); the same few ids recur in every
// message, so remember the ones that passed. Bounded, and holds only valid ids.
const validPeerIds = new Set<string>()
const VALID_PEER_ID_CACHE = 4096

/** Parses a peer id string strictly: canonical form, public key embedded. */
export function parsePeerId(value: unknown, path = 'peerId'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_PEER_ID_LENGTH) {
    throw schemaError(path, 'expected a peer id string')
  }
  if (validPeerIds.has(value)) return value
  let parsed: ReturnType<typeof peerIdFromString>
  try {
    parsed = peerIdFromString(value)
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_SCHEMA, `invalid field ${path}`, {
      details: 'not a libp2p peer id',
      cause,
    })
  }
  if (parsed.publicKey === undefined || parsed.toString() !== value) {
    throw schemaError(
      path,
      'peer id must be canonical base58 and embed its public key (Ed25519 or secp256k1)',
    )
  }
  if (validPeerIds.size >= VALID_PEER_ID_CACHE) validPeerIds.clear()
  validPeerIds.add(value)
  return value
}

/** TypeScript form to wire form. Trusts its input (our own messages), but still checks it. */
export function toWire(field: Field, value: unknown, path = ''): unknown {
  switch (field.kind) {
    case 'uint':
    case 'literal':
    case 'bool':
    case 'enum':
    case 'string':
    case 'biguint':
      // same representation on both sides; validate through fromWire so we never emit
      // something our own decoder would refuse
      return fromWire(field, value, path)
    case 'peerId':
      return parsePeerId(value, path)
    case 'fixedBytes': {
      if (typeof value !== 'string' || !isHex(value)) throw schemaError(path, 'expected hex')
      const bytes = hexToBytes(value)
      if (bytes.length !== field.length) throw schemaError(path, `expected ${field.length} bytes`)
      return bytes
    }
    case 'hexBytes': {
      if (typeof value !== 'string' || !isHex(value)) throw schemaError(path, 'expected hex')
      const bytes = hexToBytes(value)
      if (bytes.length > field.maxLength) throw schemaError(path, `longer than ${field.maxLength} bytes`)
      return bytes
    }
    case 'address': {
      if (typeof value !== 'string') throw schemaError(path, 'expected an address')
      try {
        return hexToBytes(getAddress(value))
      } catch (cause) {
        throw new ProtocolError(ProtocolErrorCode.INVALID_SCHEMA, `invalid field ${path}`, {
          details: 'not an EVM address',
          cause,
        })
      }
    }
    case 'bytes':
      if (!(value instanceof Uint8Array)) throw schemaError(path, 'expected bytes')
      if (value.length > field.maxLength) throw schemaError(path, `longer than ${field.maxLength} bytes`)
      return value
    case 'list':
      if (!Array.isArray(value)) throw schemaError(path, 'expected a list')
      if (value.length > field.maxItems) throw schemaError(path, `more than ${field.maxItems} items`)
      return value.map((item, i) => toWire(field.item, item, `${path}[${i}]`))
    case 'struct': {
      if (typeof value !== 'object' || value === null) throw schemaError(path, 'expected a struct')
      const out: Record<string, unknown> = {}
      const record = value as Record<string, unknown>
      for (const [name, sub] of Object.entries(field.fields)) {
        const v = record[name]
        if (v === undefined && sub.kind === 'optional') continue
        out[name] = toWire(sub.kind === 'optional' ? sub.inner : sub, v, path ? `${path}.${name}` : name)
      }
      return out
    }
    case 'optional':
      return value === undefined ? undefined : toWire(field.inner, value, path)
  }
}

/** Wire form (decoded CBOR from anyone) to TypeScript form, checking everything. */
export function fromWire(field: Field, value: unknown, path = ''): unknown {
  switch (field.kind) {
    case 'uint':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > field.max) {
        throw schemaError(path, `expected an integer 0..${field.max}`)
      }
      return value
    case 'literal':
      if (value !== field.value) {
        throw new ProtocolError(ProtocolErrorCode.UNSUPPORTED_VERSION, `unsupported ${path || 'value'}`, {
          details: `expected ${field.value}`,
        })
      }
      return value
    case 'biguint': {
      let big: bigint
      if (typeof value === 'bigint') big = value
      else if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value)
      else throw schemaError(path, 'expected an unsigned integer')
      if (big < 0n || big >= 1n << BigInt(field.bits)) throw schemaError(path, `not a uint${field.bits}`)
      return big
    }
    case 'fixedBytes':
      if (!(value instanceof Uint8Array) || value.length !== field.length) {
        throw schemaError(path, `expected ${field.length} bytes`)
      }
      return bytesToHex(value) as Hex
    case 'address':
      if (!(value instanceof Uint8Array) || value.length !== 20) throw schemaError(path, 'expected 20 bytes')
      return getAddress(bytesToHex(value))
    case 'bytes':
      if (!(value instanceof Uint8Array)) throw schemaError(path, 'expected bytes')
      if (value.length > field.maxLength) throw schemaError(path, `longer than ${field.maxLength} bytes`)
      return value
    case 'hexBytes':
      if (!(value instanceof Uint8Array)) throw schemaError(path, 'expected bytes')
      if (value.length > field.maxLength) throw schemaError(path, `longer than ${field.maxLength} bytes`)
      return bytesToHex(value)
    case 'string':
      if (typeof value !== 'string') throw schemaError(path, 'expected a string')
      if (value.length > field.maxLength) throw schemaError(path, `longer than ${field.maxLength} characters`)
      if (field.pattern !== undefined && !field.pattern.test(value)) throw schemaError(path, 'bad format')
      return value
    case 'peerId':
      return parsePeerId(value, path)
    case 'bool':
      if (typeof value !== 'boolean') throw schemaError(path, 'expected a boolean')
      return value
    case 'enum':
      if (typeof value !== 'string' || !field.values.includes(value)) {
        throw schemaError(path, `expected one of ${field.values.join(', ')}`)
      }
      return value
    case 'list':
      if (!Array.isArray(value)) throw schemaError(path, 'expected a list')
      if (value.length > field.maxItems) throw schemaError(path, `more than ${field.maxItems} items`)
      return value.map((item, i) => fromWire(field.item, item, `${path}[${i}]`))
    case 'struct': {
      if (!isPlainObject(value)) throw schemaError(path, 'expected a map')
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(field.fields, key)) throw schemaError(path, `unknown field ${key.slice(0, 32)}`)
      }
      const out: Record<string, unknown> = {}
      for (const [name, sub] of Object.entries(field.fields)) {
        const subPath = path ? `${path}.${name}` : name
        const v = Object.hasOwn(value, name) ? value[name] : undefined
        if (sub.kind === 'optional') {
          if (v !== undefined) out[name] = fromWire(sub.inner, v, subPath)
        } else {
          if (v === undefined) throw schemaError(subPath, 'missing')
          out[name] = fromWire(sub, v, subPath)
        }
      }
      return out
    }
    case 'optional':
      return value === undefined ? undefined : fromWire(field.inner, value, path)
  }
}
