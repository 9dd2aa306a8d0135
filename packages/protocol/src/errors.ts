/**
 * The one error class of @ocn/protocol. Every failure to decode or validate bytes that
 * came from someone else is a `ProtocolError` with a stable `code`, so callers (gossip
 * validators, stream handlers) can map it to a peer penalty without parsing messages.
 */
export const ProtocolErrorCode = {
  /** the encoded message is larger than its type's limit (checked before decoding) */
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  /** the bytes are not well-formed CBOR, or not in the one canonical form */
  MALFORMED_ENCODING: 'MALFORMED_ENCODING',
  /** the bytes decode, but not to the expected shape (missing, extra or mistyped fields) */
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  /** the message's version is not one this code speaks */
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  /** a field is well-typed but its value is not acceptable (out of range, inconsistent) */
  INVALID_VALUE: 'INVALID_VALUE',
  /** an identity binding does not verify */
  INVALID_IDENTITY_BINDING: 'INVALID_IDENTITY_BINDING',
  /** an EIP-712 signature does not recover to the address it claims */
  INVALID_SIGNATURE: 'INVALID_SIGNATURE',
  /** a content hash is not a 0x-prefixed 32-byte hex string */
  INVALID_CONTENT_HASH: 'INVALID_CONTENT_HASH',
  /** a Merkle proof or root does not match */
  INVALID_PROOF: 'INVALID_PROOF',
} as const
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode]

/**
 * The one base class of every OCN error, in the viem spirit: a stable `code` callers can
 * switch on, a one-line `shortMessage` a user can act on, optional `details`, and the
 * `cause` chain. Each package and subsystem subclasses it with its own code set, so
 * `err instanceof OcnError` catches them all and `err.code` says which.
 */
export interface OcnErrorOptions {
  details?: string | undefined
  cause?: unknown
}

export class OcnError<TCode extends string = string> extends Error {
  override name = 'OcnError'
  readonly code: TCode
  readonly shortMessage: string
  readonly details: string | undefined

  constructor(code: TCode, shortMessage: string, options: OcnErrorOptions = {}) {
    const hasDetails = options.details !== undefined && options.details !== ''
    super(
      hasDetails ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage,
      options.cause === undefined ? undefined : { cause: options.cause },
    )
    this.code = code
    this.shortMessage = shortMessage
    this.details = options.details
  }
}

export function isOcnError(value: unknown): value is OcnError {
  return value instanceof OcnError
}

export type ProtocolErrorOptions = OcnErrorOptions

export class ProtocolError extends OcnError<ProtocolErrorCode> {
  override readonly name = 'ProtocolError'
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError
}
