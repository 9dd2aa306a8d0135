export { ArtifactStoreError, ArtifactStoreErrorCode } from './errors.js'
export { type ArtifactStoreOptions, defaultArtifactStoreOptions } from './options.js'
export {
  type ArtifactStore,
  type ArtifactStoreComponents,
  type ArtifactStoreInit,
  createArtifactStore,
  type GetOptions,
  type PutOptions,
  type PutResult,
} from './store.js'
