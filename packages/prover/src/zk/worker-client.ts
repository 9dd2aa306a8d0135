import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ZkError } from './errors.js'
import type { ZkTask, ZkWorkerMessage } from './worker-protocol.js'

export interface RunZkTaskOptions {
  signal?: AbortSignal | undefined
  /** Kills the child after this long (milliseconds). */
  timeoutMs?: number | undefined
  onProgress?: ((message: string) => void) | undefined
}

/**
 * The compiled worker next to this module. Under vitest this module runs from src/ as TypeScript,
 * where no worker.js exists, so the built copy in dist/ is used (`npm test` builds first).
 */
function workerPath(): string {
  const beside = fileURLToPath(new URL('./worker.js', import.meta.url))
  if (existsSync(beside)) return beside
  const built = beside.replace(/([\\/])src([\\/]zk[\\/]worker\.js)$/, '$1dist$2')
  if (existsSync(built)) return built
  throw new ZkError('ZK_WORKER_FAILED', 'the zk worker script is missing', {
    details: `looked for ${beside} and ${built}; build @ocn/prover first (npx tsc -p packages/prover/tsconfig.json)`,
  })
}

/** Runs one task in a fresh child process, which exits when done (closing snarkjs's worker threads). */
export function runZkTask<T>(task: ZkTask, options: RunZkTaskOptions = {}): Promise<T> {
  const { signal, timeoutMs, onProgress } = options
  if (signal?.aborted) return Promise.reject(new ZkError('ZK_ABORTED', `${task.op} was aborted`))
  return new Promise<T>((resolve, reject) => {
    let child: ChildProcess
    try {
      child = fork(workerPath(), [], {
        execArgv: [],
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      })
    } catch (cause) {
      reject(new ZkError('ZK_WORKER_FAILED', 'could not start the zk worker', { cause }))
      return
    }
    let settled = false
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      // keep only the tail: enough to explain a crash, bounded in memory
      stderr = (stderr + chunk.toString()).slice(-4000)
    })
    const finish = (error: ZkError | undefined, value?: T): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (child.exitCode === null && child.signalCode === null && error) child.kill('SIGKILL')
      if (error) reject(error)
      else resolve(value as T)
    }
    const onAbort = (): void =>
      finish(new ZkError('ZK_ABORTED', `${task.op} was aborted`, { cause: signal?.reason }))
    signal?.addEventListener('abort', onAbort, { once: true })
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => finish(new ZkError('ZK_WORKER_FAILED', `${task.op} did not finish within ${timeoutMs} ms`)),
            timeoutMs,
          )
    let result: { value: T } | undefined
    child.on('message', (message: ZkWorkerMessage) => {
      if (message.kind === 'progress') onProgress?.(message.message)
      else if (message.kind === 'result') result = { value: message.result as T }
      else
        finish(
          new ZkError('ZK_WORKER_FAILED', `${task.op} failed: ${message.message}`, {
            details: message.stack,
          }),
        )
    })
    child.on('error', (cause) =>
      finish(new ZkError('ZK_WORKER_FAILED', `the zk worker for ${task.op} failed`, { cause })),
    )
    child.on('exit', (code, exitSignal) => {
      if (result) finish(undefined, result.value)
      else
        finish(
          new ZkError(
            'ZK_WORKER_FAILED',
            `the zk worker for ${task.op} exited (${exitSignal ?? `code ${code}`})`,
            {
              details: stderr || undefined,
            },
          ),
        )
    })
    child.send(task)
  })
}
