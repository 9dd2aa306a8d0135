import { availableParallelism } from 'node:os'
import type { WorkerIsolation } from './worker-handle.js'

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
  /**
   * 'process' (default): each worker is a child process, so a model or input that crashes
   * ONNX Runtime natively or exhausts memory kills only its worker, and a timed-out run is
   * stopped at once by killing it. 'thread': worker threads, slightly cheaper messages, but
   * a native crash or a hard out-of-memory in one takes the whole daemon down.
   */
  isolation: WorkerIsolation
}

export const defaultExecutorOptions: ExecutorOptions = {
  poolSize: Math.max(1, availableParallelism()),
  maxModelBytes: 2 * 1024 ** 3 - 1,
  maxTensorElements: 1 << 28,
  jobTimeoutMs: 30 * 60_000,
  workerMemoryMb: 2048,
  sessionCacheSize: 4,
  isolation: 'process',
}
