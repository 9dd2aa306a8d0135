/**
 * One deterministic binary encoding for every wire message: CBOR (RFC 8949) in its core
 * deterministic form via cborg: shortest integer and length forms, map keys sorted
 * bytewise, no indefinite lengths, integers wider than 64 bits as tag 2 bignums.
 *
 * Decoding untrusted bytes goes: size limit (before parsing anything), strict CBOR parse,
 * schema check, then a canonical check: re-encode the result and require the same
 * bytes. So each message has exactly one encoding, and anything else is refused, which
 * makes content-derived ids (gossip message ids, duplicate detection) sound. Whatever the
 * bytes, decoding throws nothing but `ProtocolError`.
 */
import {
  decode as cborDecode,
  encode as cborEncode,
  type DecodeOptions,
  type EncodeOptions,
  rfc8949EncodeOptions,
} from 'cborg'
import { bigIntEncoder } from 'cborg/taglib'
import { isProtocolError, ProtocolError, ProtocolErrorCode } from './errors.js'
import { MessageSizeLimit, type MessageType, type MessageTypes, messageSchemas } from './messages.js'
import { fromWire, toWire } from './schema.js'

const encodeOptions: EncodeOptions = {
  ...rfc8949EncodeOptions,
  typeEncoders: { bigint: bigIntEncoder },
}

/** Tag 2 (positive bignum), strictly: a byte string, no leading zero, above 64 bits. */
function strictBignumDecoder(decodeInner: () => unknown): bigint {
  const bytes = decodeInner()
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > 32 || bytes[0] === 0) {
    throw new ProtocolError(ProtocolErrorCode.MALFORMED_ENCODING, 'malformed bignum')
  }
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  if (value <= 0xffff_ffff_ffff_ffffn) {
    throw new ProtocolError(
      ProtocolErrorCode.MALFORMED_ENCODING,
      'bignum that fits 64 bits must be an integer',
    )
  }
  return value
}

const decodeOptions: DecodeOptions = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: true,
  rejectDuplicateMapKeys: true,
  tags: { 2: strictBignumDecoder },
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Encodes one of our own messages. Throws `ProtocolError` if it does not fit its schema or size limit. */
export function encodeMessage<T extends MessageType>(type: T, message: MessageTypes[T]): Uint8Array {
  const wire = toWire(messageSchemas[type], message, type)
  const bytes = cborEncode(wire, encodeOptions)
  const limit = MessageSizeLimit[type]
  if (bytes.length > limit) {
    throw new ProtocolError(ProtocolErrorCode.MESSAGE_TOO_LARGE, `${type} too large`, {
      details: `${bytes.length} bytes, limit ${limit}`,
    })
  }
  return bytes
}

/** Decodes bytes from anyone. Throws only `ProtocolError`. */
export function decodeMessage<T extends MessageType>(type: T, bytes: Uint8Array): MessageTypes[T] {
  const limit = MessageSizeLimit[type]
  if (!(bytes instanceof Uint8Array)) {
    throw new ProtocolError(ProtocolErrorCode.MALFORMED_ENCODING, `${type}: expected bytes`)
  }
  if (bytes.length > limit) {
    throw new ProtocolError(ProtocolErrorCode.MESSAGE_TOO_LARGE, `${type} too large`, {
      details: `${bytes.length} bytes, limit ${limit}`,
    })
  }
  let wire: unknown
  try {
    wire = cborDecode(bytes, decodeOptions)
  } catch (cause) {
    if (isProtocolError(cause)) throw cause
    throw new ProtocolError(ProtocolErrorCode.MALFORMED_ENCODING, `${type}: not valid CBOR`, {
      details: cause instanceof Error ? cause.message.slice(0, 200) : 'decode failed',
      cause,
    })
  }
  let message: MessageTypes[T]
  let reencoded: Uint8Array
  try {
    message = fromWire(messageSchemas[type], wire, type) as MessageTypes[T]
    reencoded = cborEncode(toWire(messageSchemas[type], message, type), encodeOptions)
  } catch (cause) {
    if (isProtocolError(cause)) throw cause
    throw new ProtocolError(ProtocolErrorCode.INVALID_SCHEMA, `${type}: invalid message`, { cause })
  }
  if (!bytesEqual(reencoded, bytes)) {
    throw new ProtocolError(ProtocolErrorCode.MALFORMED_ENCODING, `${type}: not in canonical form`, {
      details: 'each message has exactly one encoding (deterministic CBOR)',
    })
  }
  return message
}

export const encodeJobOffer = (m: MessageTypes['jobOffer']) => encodeMessage('jobOffer', m)
export const decodeJobOffer = (b: Uint8Array) => decodeMessage('jobOffer', b)
export const encodeBid = (m: MessageTypes['bid']) => encodeMessage('bid', m)
export const decodeBid = (b: Uint8Array) => decodeMessage('bid', b)
export const encodeCapabilityAd = (m: MessageTypes['capabilityAd']) => encodeMessage('capabilityAd', m)
export const decodeCapabilityAd = (b: Uint8Array) => decodeMessage('capabilityAd', b)
export const encodeResultNotice = (m: MessageTypes['resultNotice']) => encodeMessage('resultNotice', m)
export const decodeResultNotice = (b: Uint8Array) => decodeMessage('resultNotice', b)
