import { NodeError } from '../core/errors.js'

export type KeyStoreErrorCode =
  | 'KEYS_EXIST'
  | 'KEYS_NOT_FOUND'
  | 'KEYS_PASSPHRASE_REQUIRED'
  | 'KEYS_WRONG_PASSPHRASE'
  | 'KEYS_CORRUPT'
  | 'KEYS_INSECURE_PERMISSIONS'
  | 'KEYS_WRITE_FAILED'

export class KeyStoreError extends NodeError<KeyStoreErrorCode> {
  override name = 'KeyStoreError'
}
