export { ArtifactStoreError, ArtifactStoreErrorCode } from './errors.js'
export { type ArtifactStoreOptions, defaultArtifactStoreOptions } from './options.js'
export {
  type ArtifactStore,
  type ArtifactStoreComponents,
  type ArtifactStoreInit,
  type GetOptions,
  type PutOptions,
  type PutResult,
  createArtifactStore,
} from './store.js'
