/**
 * A pool of executor workers. Each worker runs one request at a time on single-threaded
 * sessions, so N workers keep N cores busy with N micro-batches and every result is the
 * same bits as a lone run.
 *
 * A task aborted or timed out while running fails at once and its slot gets a fresh
 * worker, so the pool keeps its capacity. The old worker is not terminated there and then:
 * ONNX Runtime's run cannot be interrupted, and terminating a thread that is inside it
 * aborts the whole process when the run returns. The old worker drains: it is terminated
 * as soon as its run comes back (or, at stop(), after a grace period). A worker that dies
 * (out of memory, crash) fails its task and is replaced.
 *
 * Pipelining: a worker running a micro-batch of a model it holds is sent the next
 * micro-batch at once (PIPELINE_DEPTH requests in flight), so it starts that one as soon
 * as the first is done instead of idling for a reply-and-request round trip over IPC.
 * Workers still run one request at a time, in order, on the same single-threaded
 * sessions, so results are the same bits.
 */
import type { Hex } from 'viem'
import { deserializeError, ExecutorError } from './errors.js'
import { spawnWorker, type WorkerHandle, type WorkerIsolation } from './worker-handle.js'
import type { WorkerData, WorkerReply, WorkerRequest, WorkerResults } from './worker-protocol.js'

export interface WorkerPoolOptions {
  size: number
  /** V8 heap cap per worker (maxOldGenerationSizeMb) */
  workerMemoryMb: number
  sessionCacheSize: number
  workerUrl: URL
  isolation: WorkerIsolation
  onWorkerReplaced?: (reason: string) => void
}

/**
 * Requests one worker holds at most: the running one plus queued inference micro-batches.
 * 2 hides the round trip; more would only make a worker hoard work another could take.
 */
const PIPELINE_DEPTH = 2

type Progress = Extract<WorkerReply, { progress: unknown }>['progress']

interface Task {
  id: number
  request: WorkerRequest
  /** the model bytes, attached only for workers that lack the model */
  model: { hash: Hex; bytes: Uint8Array } | undefined
  signal: AbortSignal | undefined
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
  onProgress: ((p: Progress) => void) | undefined
  transfer: boolean
  onAbort?: () => void
  /** aborted after it was sent but before it started: its reply is dropped */
  abandoned?: boolean
}

interface Slot {
  worker: WorkerHandle
  loaded: Set<Hex>
  /** sent, in order: [0] is running, the rest wait in the worker (see PIPELINE_DEPTH) */
  tasks: Task[]
  /** active: in the pool; draining: abandoned mid-run, terminated when the run returns; dead: gone */
  state: 'active' | 'draining' | 'dead'
  /** shared flag the worker polls between training steps */
  cancel: Int32Array
  exited: Promise<void>
}

export class WorkerPool {
  private readonly slots: Slot[] = []
  private readonly queue: Task[] = []
  private readonly draining = new Set<Slot>()
  private nextId = 1
  private stopped = false

  constructor(private readonly options: WorkerPoolOptions) {
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn())
  }

  get size(): number {
    return this.slots.length
  }

  private spawn(): Slot {
    const cancel = new SharedArrayBuffer(4)
    const data: WorkerData = { sessionCacheSize: this.options.sessionCacheSize, cancel }
    const worker = spawnWorker(
      this.options.isolation,
      this.options.workerUrl,
      data,
      this.options.workerMemoryMb,
    )
    let exited!: () => void
    const slot: Slot = {
      worker,
      cancel: new Int32Array(cancel),
      loaded: new Set(),
      tasks: [],
      state: 'active',
      exited: new Promise((r) => {
        exited = r
      }),
    }
    worker.onMessage((msg) => this.onMessage(slot, msg))
    worker.onExit((err) => {
      exited()
      this.onExit(slot, err)
    })
    // an idle worker must not keep the process alive
    worker.unref()
    return slot
  }

  private onMessage(slot: Slot, msg: WorkerReply): void {
    if (slot.state === 'draining' && !('progress' in msg)) {
      // back from native code: now it can be terminated safely
      this.kill(slot)
      return
    }
    // the worker answers in the order it was sent requests
    const task = slot.tasks[0]
    if (!task || msg.id !== task.id) return
    if ('progress' in msg) {
      task.onProgress?.(msg.progress)
      return
    }
    slot.loaded = new Set(msg.loadedModels)
    slot.tasks.shift()
    if (slot.tasks.length === 0) slot.worker.unref()
    if (task.abandoned) {
      this.pump()
      return
    }
    task.signal?.removeEventListener('abort', task.onAbort!)
    if (msg.ok) task.resolve(msg.result)
    else task.reject(deserializeError(msg.error))
    this.pump()
  }

  private onExit(slot: Slot, err: Error): void {
    if (slot.state !== 'active') {
      slot.state = 'dead'
      this.draining.delete(slot)
      return
    }
    slot.state = 'dead'
    const [task, ...waiting] = slot.tasks
    slot.tasks = []
    // the ones queued behind it never started: another worker runs them
    this.requeue(waiting)
    if (task && !task.abandoned) {
      task.signal?.removeEventListener('abort', task.onAbort!)
      const oom = /ERR_WORKER_OUT_OF_MEMORY|out of memory/i.test(
        `${(err as { code?: string }).code} ${err.message}`,
      )
      task.reject(
        new ExecutorError(
          'EXECUTOR_WORKER_CRASHED',
          oom ? 'the worker ran out of memory' : 'the worker died',
          {
            details: err.message,
            cause: err,
          },
        ),
      )
    }
    this.replace(slot, err.message)
  }

  /** Puts sent-but-not-started tasks back at the head of the queue, in order. */
  private requeue(tasks: Task[]): void {
    const again: Task[] = []
    for (const t of tasks) {
      if (t.abandoned) continue
      if (t.signal?.aborted) {
        t.signal.removeEventListener('abort', t.onAbort!)
        t.reject(abortError(t.signal))
      } else again.push(t)
    }
    this.queue.unshift(...again)
  }

  private kill(slot: Slot): void {
    slot.state = 'dead'
    this.draining.delete(slot)
    void slot.worker.terminate().catch(() => {})
  }

  /** Puts a fresh worker in the slot's place; the old one is killed or left to drain. */
  private replace(slot: Slot, reason: string, drain = false): void {
    if (drain && !slot.worker.killSafe) {
      // a training run notices this between steps and returns early
      Atomics.store(slot.cancel, 0, 1)
      slot.state = 'draining'
      this.draining.add(slot)
    } else this.kill(slot)
    const i = this.slots.indexOf(slot)
    if (i < 0 || this.stopped) return
    this.slots[i] = this.spawn()
    this.options.onWorkerReplaced?.(reason)
    this.pump()
  }

  run<K extends WorkerRequest['type']>(
    request: Extract<WorkerRequest, { type: K }>,
    options: {
      model?: { hash: Hex; bytes: Uint8Array }
      signal?: AbortSignal
      onProgress?: (p: Progress) => void
      /** move (not copy) the request's tensor buffers to the worker; the caller gives them up */
      transfer?: boolean
    } = {},
  ): Promise<WorkerResults[K]> {
    if (this.stopped)
      return Promise.reject(new ExecutorError('EXECUTOR_NOT_RUNNING', 'the executor is stopped'))
    const { signal } = options
    if (signal?.aborted) return Promise.reject(abortError(signal))
    return new Promise((resolve, reject) => {
      const task: Task = {
        id: 0,
        request,
        model: options.model,
        signal,
        resolve: resolve as (v: unknown) => void,
        reject,
        onProgress: options.onProgress,
        transfer: options.transfer === true,
      }
      task.onAbort = () => this.abort(task)
      signal?.addEventListener('abort', task.onAbort, { once: true })
      this.queue.push(task)
      this.pump()
    })
  }

  private abort(task: Task): void {
    const queued = this.queue.indexOf(task)
    if (queued >= 0) {
      this.queue.splice(queued, 1)
      task.reject(abortError(task.signal!))
      return
    }
    const slot = this.slots.find((s) => s.tasks.includes(task))
    if (!slot) return
    if (slot.tasks[0] !== task) {
      // sent but not started: the worker runs it anyway (one micro-batch); drop its reply
      task.abandoned = true
      task.reject(abortError(task.signal!))
      return
    }
    // a blocking native run cannot be cancelled: abandon the worker and start another
    const waiting = slot.tasks.slice(1)
    slot.tasks = []
    task.reject(abortError(task.signal!))
    this.requeue(waiting)
    this.replace(slot, 'task aborted or timed out while running', true)
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const task = this.queue[0]!
      const hash = task.model?.hash
      // prefer an idle worker that already holds the model: no copy, no session build
      const idle = this.slots.filter((s) => s.tasks.length === 0 && s.state === 'active')
      let slot = (hash && idle.find((s) => s.loaded.has(hash))) || idle[0]
      if (!slot && hash && task.request.type === 'infer') {
        // pipelining: only behind inference micro-batches (short), never behind training,
        // and only to a worker known to hold the model (so the model is not sent twice)
        slot = this.slots.find(
          (s) =>
            s.state === 'active' &&
            s.tasks.length < PIPELINE_DEPTH &&
            s.loaded.has(hash) &&
            s.tasks.every((t) => t.request.type === 'infer'),
        )
      }
      if (!slot) return
      this.queue.shift()
      task.id = this.nextId++
      slot.tasks.push(task)
      const request: WorkerRequest & { id: number } = { ...task.request, id: task.id }
      if (task.model && 'modelHash' in request && !slot.loaded.has(task.model.hash)) {
        const bytes = task.model.bytes
        // a view would drag its whole backing buffer along
        ;(request as { model?: Uint8Array }).model =
          bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
      }
      const transfer: ArrayBuffer[] = []
      if (task.transfer && 'feeds' in request) {
        for (const t of Object.values(request.feeds)) {
          const buf = t.data.buffer
          if (buf instanceof ArrayBuffer && t.data.byteLength === buf.byteLength && !transfer.includes(buf))
            transfer.push(buf)
        }
      }
      slot.worker.ref()
      try {
        slot.worker.post(request, transfer)
      } catch (error) {
        slot.tasks.pop()
        task.reject(
          new ExecutorError('EXECUTOR_RUN_FAILED', 'could not send the task to a worker', { cause: error }),
        )
      }
    }
  }

  /**
   * Stops every worker. Draining workers get `drainGraceMs` to come back from native code
   * before they are terminated regardless.
   */
  async stop(drainGraceMs = 30_000): Promise<void> {
    this.stopped = true
    for (const t of this.queue.splice(0))
      t.reject(new ExecutorError('EXECUTOR_NOT_RUNNING', 'the executor stopped'))
    for (const s of this.slots) {
      if (s.tasks.length > 0) {
        for (const task of s.tasks) {
          if (!task.abandoned) task.reject(new ExecutorError('EXECUTOR_NOT_RUNNING', 'the executor stopped'))
        }
        s.tasks = []
        if (s.worker.killSafe) this.kill(s)
        else {
          // it may be inside a run: let it drain like an aborted one
          Atomics.store(s.cancel, 0, 1)
          s.state = 'draining'
          this.draining.add(s)
        }
      } else this.kill(s)
    }
    const draining = [...this.draining]
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(draining.map((s) => s.exited)),
      new Promise<void>((r) => {
        timer = setTimeout(r, drainGraceMs)
      }),
    ])
    clearTimeout(timer)
    for (const s of draining) if (s.state === 'draining') this.kill(s)
    await Promise.all(this.slots.map((s) => s.exited))
  }
}

function abortError(signal: AbortSignal): ExecutorError {
  const reason = signal.reason
  if (reason instanceof ExecutorError) return reason
  return new ExecutorError('EXECUTOR_ABORTED', 'the job was aborted', { cause: reason })
}
