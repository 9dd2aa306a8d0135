/** Failures of the content-addressed artifact store, with stable codes. */
export const ArtifactStoreErrorCode = {
  /** a name that is not 0x + 64 lowercase hex digits: refused before touching the disk */
  INVALID_HASH: 'INVALID_HASH',
  NOT_FOUND: 'NOT_FOUND',
  /** the bytes written do not hash to the expected content hash; nothing was stored */
  HASH_MISMATCH: 'HASH_MISMATCH',
  /** the artifact is larger than the configured limit; nothing was stored */
  TOO_LARGE: 'TOO_LARGE',
  ABORTED: 'ABORTED',
  NOT_STARTED: 'NOT_STARTED',
  IO_ERROR: 'IO_ERROR',
} as const
export type ArtifactStoreErrorCode = (typeof ArtifactStoreErrorCode)[keyof typeof ArtifactStoreErrorCode]

export class ArtifactStoreError extends Error {
  override readonly name = 'ArtifactStoreError'
  readonly code: ArtifactStoreErrorCode
  readonly shortMessage: string
  readonly details: string | undefined

  constructor(
    code: ArtifactStoreErrorCode,
    shortMessage: string,
    options: { details?: string; cause?: unknown } = {},
  ) {
    super(
      options.details === undefined ? shortMessage : `${shortMessage}\n\nDetails: ${options.details}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    )
    this.code = code
    this.shortMessage = shortMessage
    this.details = options.details
  }
}
