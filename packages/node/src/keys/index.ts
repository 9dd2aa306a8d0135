export type { EncryptedSecret } from './encryption.js'
export { KeyStoreError, type KeyStoreErrorCode } from './errors.js'
export {
  type InitNodeKeysParameters,
  initNodeKeys,
  type KeyFile,
  type KeyType,
  type LoadNodeKeysParameters,
  loadNodeKeys,
  type NodeKeyInfo,
  type NodeKeyPaths,
  type NodeKeys,
  nodeKeyPaths,
  readNodeKeyInfo,
} from './keystore.js'
export * from './options.js'
