/**
 * An executor worker: holds single-threaded ONNX Runtime sessions (cached by model hash and
 * profile) and runs one request at a time. Compiled to dist/executor/worker.js and started
 * by the pool; never imported by the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { decodeOnnxModel, encodeOnnxModel } from '@ocn/prover/onnx'
import type * as ort from 'onnxruntime-node'
import type { Hex } from 'viem'
import { ExecutorError, serializeError } from './errors.js'
import { decodeSafetensors } from './formats/safetensors.js'
import { sampledRowsModel } from './generate/check-graph.js'
import {
  checkDecoded,
  decode,
  type KvDecoding,
  kvModelAgrees,
  rowsModelAgrees,
  tokenProgress,
} from './generate/decode.js'
import { kvStepModel } from './generate/kv-graph.js'
import type { DecoderLayout } from './generate/params.js'
import { checkpointHash, outputsDataHash } from './hashing.js'
import { readFileFeed } from './input-file.js'
import { createSession } from './session-options.js'
import type { NamedTensors } from './tensor.js'
import { elementCount } from './tensor.js'
import { datasetOf } from './training/plan.js'
import { fromOrtTensor, replayTrainingSegment, runTraining, toOrtTensor } from './training/run.js'
import { WORKER_DATA_ENV } from './worker-handle.js'
import type { ModelRef, ModelSignature, WorkerData, WorkerReply, WorkerRequest } from './worker-protocol.js'

/** The channel to the pool: a worker thread's parentPort, or a child process's IPC. */
interface PoolChannel {
  on(event: 'message', listener: (msg: WorkerRequest & { id: number }) => void): void
  postMessage(msg: WorkerReply, transfer?: ArrayBuffer[]): void
}

function channel(): { port: PoolChannel; data: WorkerData } {
  if (parentPort) {
    const p = parentPort
    return {
      port: { on: (e, l) => p.on(e, l), postMessage: (m, t) => p.postMessage(m, t ?? []) },
      data: workerData as WorkerData,
    }
  }
  const send = process.send?.bind(process)
  const raw = process.env[WORKER_DATA_ENV]
  if (!send || !raw) throw new Error('executor worker started outside the executor pool')
  // a process worker is stopped by killing it, so its cancel flag stays local
  const data = { ...(JSON.parse(raw) as Omit<WorkerData, 'cancel'>), cancel: new SharedArrayBuffer(4) }
  // the pool going away (its IPC channel closing) ends this process too
  process.on('disconnect', () => process.exit(0))
  return {
    port: { on: (e, l) => process.on(e, l as never), postMessage: (m) => send(m as never) },
    data,
  }
}

const { port, data } = channel()
const { sessionCacheSize, cancel } = data
const cancelFlag = new Int32Array(cancel)
const cancelled = () => Atomics.load(cancelFlag, 0) === 1

interface CachedSession {
  /**
   * The plain session; undefined while a probed decoding session (kv-graph.ts) stands in for
   * it (decodingSessions), made again by plainSession when a request needs it.
   */
  session: ort.InferenceSession | undefined
  signature: ModelSignature
}

/** LRU by insertion order: a hit is re-inserted at the end. */
const sessions = new Map<string, CachedSession>()

function cacheKey(ref: ModelRef): string {
  const p = ref.profile
  return `${ref.modelHash}/${p.executionProvider}/${p.graphOptimizationLevel}/${p.intraOpThreads}/${p.interOpThreads}`
}

/**
 * Model bytes by hash, so a model can get a session under another profile (say cuda after
 * cpu) or its plain session again without the pool sending it again. The pool mirrors this
 * set from every reply, and sends the bytes with any request for a model not in it.
 */
const models = new Map<Hex, Uint8Array>()

function loadedModels(): Hex[] {
  return [...models.keys()]
}

function keepBytes(ref: ModelRef): void {
  if (!ref.model) return
  models.delete(ref.modelHash)
  models.set(ref.modelHash, ref.model)
  while (models.size > sessionCacheSize) models.delete(models.keys().next().value!)
}

/** A plain session of the model under the profile, from the bytes this worker holds. */
async function newSession(ref: ModelRef): Promise<ort.InferenceSession> {
  const bytes = models.get(ref.modelHash)
  if (!bytes) throw new ExecutorError('EXECUTOR_RUN_FAILED', 'worker was not sent the model it does not hold')
  return createSession(bytes, ref.profile, (message, cause) =>
    ref.profile.executionProvider !== 'cpu' && /provider|cuda|webgpu|dawn|adapter/i.test(message)
      ? new ExecutorError(
          'EXECUTOR_DEVICE_UNAVAILABLE',
          `the ${ref.profile.executionProvider} execution provider failed to start`,
          { details: message, cause },
        )
      : new ExecutorError('EXECUTOR_MODEL_INVALID', 'ONNX Runtime cannot load the model', {
          details: message,
          cause,
        }),
  )
}

function signatureOf(session: ort.InferenceSession): ModelSignature {
  const sig = (meta: readonly ort.InferenceSession.ValueMetadata[]) =>
    meta.map((m) =>
      m.isTensor
        ? {
            name: m.name,
            type: m.type,
            shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))),
          }
        : { name: m.name, type: 'non-tensor', shape: undefined },
    )
  return { inputs: sig(session.inputMetadata), outputs: sig(session.outputMetadata) }
}

/** The cache entry of the model under the profile (made on a miss), and its place in the LRU. */
async function sessionFor(ref: ModelRef): Promise<CachedSession> {
  keepBytes(ref)
  const key = cacheKey(ref)
  const hit = sessions.get(key)
  if (hit) {
    sessions.delete(key)
    sessions.set(key, hit)
    return hit
  }
  const session = await newSession(ref)
  const entry: CachedSession = { session, signature: signatureOf(session) }
  sessions.set(key, entry)
  while (sessions.size > sessionCacheSize) {
    const [oldKey, old] = sessions.entries().next().value as [string, CachedSession]
    sessions.delete(oldKey)
    await old.session?.release()
    await rowsSessions.get(oldKey)?.release()
    rowsSessions.delete(oldKey)
    await kvSessions.get(oldKey)?.session.release()
    kvSessions.delete(oldKey)
  }
  return entry
}

/** The model's plain session: what inference, training checks and the probes run on. */
async function plainSession(ref: ModelRef): Promise<ort.InferenceSession> {
  const entry = await sessionFor(ref)
  entry.session ??= await newSession(ref)
  return entry.session
}

/**
 * The check pass's check-rows session (check-graph.ts) per session key, made on the first
 * check of a model and kept while its entry is cached; null where the rewrite does not apply
 * or its logits disagreed with the plain prefill's on the probe.
 */
const rowsSessions = new Map<string, ort.InferenceSession | null>()

/**
 * The sessions of a check pass: the check-rows session, made on first use (when the worker
 * holds the model's bytes), and a session that gives the plain prefill's logits for its probe
 * and for models the rewrite does not fit. That is the plain session, or the decoding session
 * standing in for it (its logits are the plain session's bit for bit, probed; a check is
 * judged within the tie tolerance anyway), so a check does not bring the plain copy back.
 */
async function checkSessions(
  ref: ModelRef,
  layout: DecoderLayout,
): Promise<{ full: ort.InferenceSession; rows: ort.InferenceSession | undefined }> {
  const entry = await sessionFor(ref)
  const key = cacheKey(ref)
  const full = entry.session ?? kvSessions.get(key)?.session ?? (await plainSession(ref))
  // the model's bytes may have left the byte cache while its session stayed: this check
  // goes the plain way, and a later one that brings the bytes makes the rewrite
  if (!rowsSessions.has(key) && models.has(ref.modelHash))
    rowsSessions.set(key, await rowsSessionOf(models.get(ref.modelHash)!, ref, full, layout))
  return { full, rows: rowsSessions.get(key) ?? undefined }
}

async function rowsSessionOf(
  bytes: Uint8Array,
  ref: ModelRef,
  full: ort.InferenceSession,
  layout: DecoderLayout,
): Promise<ort.InferenceSession | null> {
  let rows: ort.InferenceSession
  try {
    const rewritten = sampledRowsModel(decodeOnnxModel(bytes))
    if (!rewritten) return null
    rows = await createSession(encodeOnnxModel(rewritten), ref.profile, (_m, cause) => cause as Error)
  } catch {
    // a model the rewrite cannot express still checks, with the plain prefill
    return null
  }
  if (await rowsModelAgrees(full, rows, layout)) return rows
  await rows.release()
  return null
}

/**
 * The decoding session of kv-graph.ts per session key, made on the first generation of a
 * model and kept while its entry is cached; null where the rewrite does not apply or did not
 * decode bit for bit as the plain session on the probe.
 */
const kvSessions = new Map<string, KvDecoding | null>()

/**
 * The sessions a generation decodes with. Once the decoding session has passed its probe it
 * stands in for the plain one, which is released: the worker then holds one copy of the
 * model's weights, not two (a real decoder's weights are gigabytes). A later request that
 * needs the plain session itself (inference: its outputs must be the plain graph's bit for
 * bit) makes it again from the bytes (plainSession).
 */
async function decodingSessions(
  ref: ModelRef,
  layout: DecoderLayout,
): Promise<{ full: ort.InferenceSession; kv: KvDecoding | undefined }> {
  const entry = await sessionFor(ref)
  const key = cacheKey(ref)
  const known = kvSessions.get(key)
  if (known) return { full: entry.session ?? known.session, kv: known }
  const plain = await plainSession(ref)
  // without the bytes (they left the byte cache while the session stayed) this run decodes
  // the plain way, and a later one that brings them makes the rewrite
  if (known === null || !models.has(ref.modelHash)) return { full: plain, kv: undefined }
  const kv = await kvSessionOf(models.get(ref.modelHash)!, ref, plain, layout)
  kvSessions.set(key, kv)
  if (!kv) return { full: plain, kv: undefined }
  entry.session = undefined
  await plain.release()
  return { full: kv.session, kv }
}

async function kvSessionOf(
  bytes: Uint8Array,
  ref: ModelRef,
  full: ort.InferenceSession,
  layout: DecoderLayout,
): Promise<KvDecoding | null> {
  let kv: KvDecoding
  try {
    const rewritten = kvStepModel(decodeOnnxModel(bytes), layout)
    if (!rewritten) return null
    const session = await createSession(
      encodeOnnxModel(rewritten.model),
      ref.profile,
      (_m, cause) => cause as Error,
    )
    kv = { session, streams: rewritten.streams }
  } catch {
    // a model the rewrite cannot express still decodes, the plain way
    return null
  }
  if (await kvModelAgrees(full, kv, layout)) return kv
  await kv.session.release()
  return null
}

async function infer(req: Extract<WorkerRequest, { type: 'infer' }>) {
  const session = await plainSession(req)
  const feeds: Record<string, ort.Tensor> = {}
  for (const [name, t] of Object.entries(req.feeds)) feeds[name] = toOrtTensor(t)
  for (const [name, f] of Object.entries(req.fileFeeds ?? {})) feeds[name] = toOrtTensor(readFileFeed(f))
  let out: ort.InferenceSession.OnnxValueMapType
  try {
    out = await session.run(feeds, req.outputs ?? session.outputNames)
  } catch (cause) {
    throw new ExecutorError('EXECUTOR_RUN_FAILED', 'ONNX Runtime failed running the model', {
      details: cause instanceof Error ? cause.message : String(cause),
      cause,
    })
  }
  const outputs: NamedTensors = {}
  for (const [name, value] of Object.entries(out)) {
    const t = value as ort.Tensor
    if (t.type === 'string') throw new ExecutorError('EXECUTOR_RUN_FAILED', `output ${name} holds strings`)
    if (elementCount(t.dims) > req.maxTensorElements) {
      throw new ExecutorError('EXECUTOR_TENSOR_TOO_LARGE', `output ${name} has more elements than allowed`, {
        details: `[${t.dims.join(', ')}] > ${req.maxTensorElements} elements`,
      })
    }
    outputs[name] = fromOrtTensor(t)
  }
  return { outputs, dataHash: outputsDataHash(outputs) }
}

function startStateOf(bytes: Uint8Array | undefined, expected: Hex | undefined): NamedTensors | undefined {
  if (!bytes) return undefined
  const state = decodeSafetensors(bytes).tensors
  if (expected !== undefined && checkpointHash(state).toLowerCase() !== expected.toLowerCase()) {
    throw new ExecutorError(
      'EXECUTOR_INPUT_MISMATCH',
      'the start checkpoint does not match its committed hash',
    )
  }
  return state
}

function transferList(result: unknown): ArrayBuffer[] {
  const out: ArrayBuffer[] = []
  const seen = new Set<ArrayBuffer>()
  const visit = (v: unknown) => {
    if (v instanceof Uint8Array) {
      // only whole, unshared buffers can be transferred
      const buf = v.buffer as ArrayBuffer
      if (
        v.byteOffset === 0 &&
        v.byteLength === buf.byteLength &&
        !seen.has(buf) &&
        !(buf instanceof SharedArrayBuffer)
      ) {
        seen.add(buf)
        out.push(buf)
      }
    } else if (Array.isArray(v)) v.forEach(visit)
    else if (v && typeof v === 'object') Object.values(v).forEach(visit)
  }
  visit(result)
  return out
}

// One request at a time, in arrival order: the pool may send the next micro-batch while one
// runs (pipelining) and reads replies in the order it sent requests. Without this chain an
// async run would let the next request start beside it (two runs on one core).
let previous: Promise<void> = Promise.resolve()
port.on('message', (msg: WorkerRequest & { id: number }) => {
  // handle() fails only when even its error reply cannot be posted: the pool is unreachable,
  // and exiting lets it see a dead worker (as an unhandled rejection did before)
  previous = previous.then(() => handle(msg)).catch(() => process.exit(1))
})

async function handle(msg: WorkerRequest & { id: number }): Promise<void> {
  let reply: WorkerReply
  try {
    let result: unknown
    switch (msg.type) {
      case 'load':
        result = (await sessionFor(msg)).signature
        break
      case 'infer':
        result = await infer(msg)
        break
      case 'train':
        result = await runTraining(msg.spec, datasetOf(msg.spec, msg.dataset), msg.baseModel, {
          keepCheckpoints: msg.keepCheckpoints,
          cancelled,
          onCheckpoint: (checkpoint, step, loss) =>
            port.postMessage({ id: msg.id, progress: { checkpoint, step, loss } }),
        })
        break
      case 'train-segment':
        result = {
          checkpointHash: await replayTrainingSegment(
            msg.spec,
            datasetOf(msg.spec, msg.dataset),
            msg.baseModel,
            msg.index,
            startStateOf(msg.startState, msg.expectedStartHash),
            cancelled,
          ),
        }
        break
      case 'generate': {
        const tokens = tokenProgress((position, picked, digests) =>
          port.postMessage({ id: msg.id, progress: { position, tokens: picked, digests } }),
        )
        try {
          const layout = msg.params.layout
          const { full, kv } = await decodingSessions(msg, layout)
          result = await decode(full, msg.params, tokens.add, cancelled, kv)
        } finally {
          tokens.flush()
        }
        break
      }
      case 'generate-check':
        {
          const layout = msg.params.layout
          const { full, rows } = await checkSessions(msg, layout)
          result = await checkDecoded(full, msg.params, rows)
        }
        break
    }
    reply = { id: msg.id, ok: true, result, loadedModels: loadedModels() }
  } catch (error) {
    reply = {
      id: msg.id,
      ok: false,
      error: serializeError(error, 'EXECUTOR_RUN_FAILED'),
      loadedModels: loadedModels(),
    }
  }
  try {
    port.postMessage(reply, reply.ok ? transferList(reply.result) : [])
  } catch (error) {
    port.postMessage({
      id: msg.id,
      ok: false,
      error: serializeError(error, 'EXECUTOR_RUN_FAILED'),
      loadedModels: loadedModels(),
    })
  }
}
