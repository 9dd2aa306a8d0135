/**
 * What every job of an executor shares: the worker pool and its lifecycle, the job's
 * abort-or-timeout signal, the per-kind job metric, and the model signatures already loaded.
 */
import type { Hex } from 'viem'
import { ExecutorError } from './errors.js'
import { type JobSignal, jobSignal, type RunOptions } from './job-signal.js'
import type { ExecutorMetrics } from './metrics.js'
import type { ExecutorOptions } from './options.js'
import { WorkerPool } from './pool.js'
import type { ReplayProfile } from './spec.js'
import type { ModelSignature } from './worker-protocol.js'

export interface ExecutorLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

export class ExecutorRuntime {
  private pool: WorkerPool | undefined
  private readonly signatures = new Map<string, ModelSignature>()

  constructor(
    readonly options: ExecutorOptions,
    readonly metrics: ExecutorMetrics | undefined,
    private readonly workerUrl: URL,
    private readonly logger: ExecutorLogger | undefined,
  ) {}

  start(): void {
    if (this.pool) return
    this.pool = new WorkerPool({
      size: this.options.poolSize,
      workerMemoryMb: this.options.workerMemoryMb,
      sessionCacheSize: this.options.sessionCacheSize,
      workerUrl: this.workerUrl,
      isolation: this.options.isolation,
      onWorkerReplaced: (reason) => {
        this.metrics?.workerRestarts.inc()
        this.logger?.warn({ reason }, 'executor worker replaced')
      },
    })
  }

  async stop(): Promise<void> {
    const p = this.pool
    this.pool = undefined
    await p?.stop()
  }

  /** The pool, or EXECUTOR_NOT_RUNNING before start() and after stop(). */
  running(): WorkerPool {
    if (!this.pool) throw new ExecutorError('EXECUTOR_NOT_RUNNING', 'the executor is not started')
    return this.pool
  }

  jobSignal(o: RunOptions): JobSignal {
    return jobSignal(o, this.options.jobTimeoutMs)
  }

  /** Runs a job, counting it under its outcome: ok or the ExecutorError's code. */
  async tracked<T>(kind: string, work: () => Promise<T>): Promise<T> {
    try {
      const r = await work()
      this.metrics?.jobs.inc({ kind, outcome: 'ok' })
      return r
    } catch (error) {
      this.metrics?.jobs.inc({ kind, outcome: error instanceof ExecutorError ? error.code : 'unknown' })
      throw error
    }
  }

  /** The model's signature, loaded in a worker once per model and execution provider. */
  async signatureOf(
    model: Uint8Array,
    hash: Hex,
    profile: ReplayProfile,
    signal: AbortSignal,
  ): Promise<ModelSignature> {
    const key = `${hash}/${profile.executionProvider}`
    const known = this.signatures.get(key)
    if (known) return known
    const sig = await this.running().run(
      { type: 'load', modelHash: hash, profile },
      { model: { hash, bytes: model }, signal },
    )
    this.signatures.set(key, sig)
    return sig
  }
}
