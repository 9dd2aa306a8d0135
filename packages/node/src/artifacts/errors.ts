import { OcnError } from '@ocn/protocol'
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

export class ArtifactStoreError extends OcnError<ArtifactStoreErrorCode> {
  override readonly name = 'ArtifactStoreError'
}
