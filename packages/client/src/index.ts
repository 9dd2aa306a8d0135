export type * from './activity.js'
export {
  createOcnClient,
  type DownloadOptions,
  type FollowOptions,
  type OcnClient,
  type OcnClientOptions,
  sha256Hex,
} from './client.js'
export {
  ClientError,
  type ClientErrorCode,
  isOcnClientError,
  NodeApiError,
  OcnClientError,
  type OcnClientErrorOptions,
} from './errors.js'
export type { CallOptions } from './http.js'
export type { CommittedTokens, StreamedTokenChunk, TokenStreamEvent } from './tokens.js'
export * from './types.js'
export type { UploadOptions, UploadProgress, UploadSource } from './upload.js'
