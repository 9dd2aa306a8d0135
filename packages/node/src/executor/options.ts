import { availableParallelism } from 'node:os'

export interface ExecutorOptions {
  /** worker threads, one single-threaded session each; default: all cores */
  poolSize: number
  /** largest model accepted, bytes */
  maxModelBytes: number
  /** largest tensor (input or output, per micro-batch output) accepted, elements */
  maxTensorElements: number
  /** wall-clock limit of one job (all its micro-batches or training steps), ms */
  jobTimeoutMs: number
  /** V8 heap cap per worker (resourceLimits.maxOldGenerationSizeMb); ONNX Runtime's native memory is not covered */
  workerMemoryMb: number
  /** sessions each worker keeps open (least recently used is released) */
  sessionCacheSize: number
}

export const defaultExecutorOptions: ExecutorOptions = {
  poolSize: Math.max(1, availableParallelism()),
  maxModelBytes: 2 * 1024 ** 3 - 1,
  maxTensorElements: 1 << 28,
  jobTimeoutMs: 30 * 60_000,
  workerMemoryMb: 2048,
  sessionCacheSize: 4,
}
