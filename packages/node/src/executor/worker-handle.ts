/**
 * The two ways an executor worker can run: a worker thread (the default: cheap messages,
 * buffers moved without copying) or a child process (isolation: a model that crashes ONNX
 * Runtime natively takes only its process down, and a run can be stopped at once by
 * killing it). Both start the same dist/executor/worker.js.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { WorkerData, WorkerReply } from './worker-protocol.js'

export type WorkerIsolation = 'thread' | 'process'

export interface WorkerHandle {
  readonly isolation: WorkerIsolation
  /** terminating mid-run is safe (a process), not only between runs (a thread) */
  readonly killSafe: boolean
  post(message: unknown, transfer: ArrayBuffer[]): void
  onMessage(listener: (message: WorkerReply) => void): void
  /** called once, when the worker is gone for any reason */
  onExit(listener: (error: Error) => void): void
  terminate(): Promise<void>
  /** a busy worker keeps the process alive; an idle one must not */
  ref(): void
  unref(): void
}

/** Environment variable carrying WorkerData to a child-process worker. */
export const WORKER_DATA_ENV = 'OCN_EXECUTOR_WORKER_DATA'

export function spawnWorker(
  isolation: WorkerIsolation,
  url: URL,
  data: WorkerData,
  memoryMb: number,
): WorkerHandle {
  return isolation === 'process' ? spawnProcess(url, data, memoryMb) : spawnThread(url, data, memoryMb)
}

function spawnThread(url: URL, data: WorkerData, memoryMb: number): WorkerHandle {
  const worker = new Worker(url, {
    workerData: data,
    resourceLimits: { maxOldGenerationSizeMb: memoryMb },
    stdout: false,
    stderr: false,
  })
  let exitListener: ((e: Error) => void) | undefined
  let gone = false
  const exit = (e: Error) => {
    if (gone) return
    gone = true
    exitListener?.(e)
  }
  worker.on('error', exit)
  worker.on('exit', (code) => exit(new Error(`worker exited with code ${code}`)))
  return {
    isolation: 'thread',
    killSafe: false,
    post: (m, transfer) => worker.postMessage(m, transfer),
    onMessage: (l) => worker.on('message', l),
    onExit: (l) => {
      exitListener = l
    },
    terminate: async () => {
      await worker.terminate()
    },
    ref: () => worker.ref(),
    unref: () => worker.unref(),
  }
}

function spawnProcess(url: URL, data: WorkerData, memoryMb: number): WorkerHandle {
  const { cancel: _shared, ...plain } = data
  const child: ChildProcess = fork(fileURLToPath(url), [], {
    serialization: 'advanced',
    execArgv: [`--max-old-space-size=${memoryMb}`],
    env: { ...process.env, [WORKER_DATA_ENV]: JSON.stringify(plain) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  let exitListener: ((e: Error) => void) | undefined
  let gone = false
  const exit = (e: Error) => {
    if (gone) return
    gone = true
    exitListener?.(e)
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit(
        new Error(signal ? `worker process killed by ${signal}` : `worker process exited with code ${code}`),
      )
      resolve()
    })
  })
  child.on('error', exit)
  return {
    isolation: 'process',
    killSafe: true,
    post: (m) => {
      child.send(m as never)
    },
    onMessage: (l) => child.on('message', (m) => l(m as WorkerReply)),
    onExit: (l) => {
      exitListener = l
    },
    terminate: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // an unref'd child would let the event loop end before its exit is seen
        child.ref()
        child.kill('SIGKILL')
      }
      await exited
    },
    ref: () => {
      child.ref()
      child.channel?.ref()
    },
    unref: () => {
      child.unref()
      child.channel?.unref()
    },
  }
}
