export interface ArtifactStoreOptions {
  /** directory holding the store (created on start) */
  directory: string
  /** largest artifact accepted, in bytes; a put beyond it is aborted and discarded */
  maxArtifactBytes: number
  /** read chunk size for get(); also the granularity of hashing */
  readChunkBytes: number
}

export const defaultArtifactStoreOptions: Omit<ArtifactStoreOptions, 'directory'> = {
  // ONNX models of a few GB exist; beyond that a job should be split
  maxArtifactBytes: 8 * 2 ** 30,
  // 256 KiB: large enough for sequential disk throughput, small enough to keep memory flat
  readChunkBytes: 256 * 1024,
}
