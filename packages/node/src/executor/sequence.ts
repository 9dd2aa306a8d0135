/**
 * Stateful sequence jobs: a model whose state outputs feed its state inputs (spec.state's
 * named pairs) runs over an ordered sequence of chunks, for one or many independent streams.
 *
 * Inputs file layout: a sequenced input holds [chunks, ...the model's shape with its batch
 * axis = streams]; a state input, when given, is the initial state (the model's shape with
 * batch = streams; zeros when left out); a broadcast input (spec.inputAxes, scalars) is given
 * whole at every chunk. Each stream runs on its own (batch 1), chunk after chunk.
 *
 * Leaf `stream * chunks + chunk` commits the chunk together with the state it started from:
 *   dataHash = SHA-256(utf8("ocn/sequence/v1") || 0x00 || stateIn || stateOut || outputs)
 * with stateIn/stateOut = hashTensors("ocn/sequence-state/v1", the state keyed by input names)
 * and outputs = the chunk's outputs hash (hashing.ts). A verifier replays one chunk from the
 * provider's served incoming state: it must hash to the stateOut of the committed leaf
 * before it (or be the job's initial state), so the stream is never re-run.
 */
import { createHash } from 'node:crypto'
import { MerkleTree } from '@ocn/protocol'
import type { ReplayExecutor } from '@ocn/prover'
import type { Hex } from 'viem'
import { checkModel, checkProfile } from './checks.js'
import { ExecutorError } from './errors.js'
import { hashTensors } from './hashing.js'
import {
  axisFix,
  concatAxis,
  type InputAxes,
  outputAxes,
  resolveInputAxes,
  sliceAxis,
  validateInputAxes,
} from './input-axes.js'
import type { RunOptions } from './job-signal.js'
import type { ExecutorRuntime } from './runtime.js'
import { parseJobSpec, type SequenceJobSpec } from './spec.js'
import { dtypeSize, elementCount, type HostTensor, type NamedTensors } from './tensor.js'
import type { ModelSignature } from './worker-protocol.js'

export const SEQUENCE_LEAF_DOMAIN = 'ocn/sequence/v1'
export const SEQUENCE_STATE_DOMAIN = 'ocn/sequence-state/v1'

export interface SequenceJob {
  spec: SequenceJobSpec
  model: Uint8Array
  inputs: NamedTensors
}

/** What a sequence leaf's dataHash is the hash of: the provider serves it for every leaf. */
export interface SequenceLeafPreimage {
  stateIn: Hex
  stateOut: Hex
  outputs: Hex
}

export interface SequencePlan {
  spec: SequenceJobSpec
  hash: Hex
  sig: ModelSignature
  axes: InputAxes
  streams: number
  chunks: number
  /** per stream: its initial state, keyed by state input name */
  initial: NamedTensors[]
}

export interface SequenceResult {
  modelHash: Hex
  streams: number
  chunks: number
  /** leaf stream * chunks + chunk */
  dataHashes: Hex[]
  preimages: SequenceLeafPreimage[]
  /** each leaf's incoming state (what a verifier replays it from) */
  states: NamedTensors[]
  root: Hex
  /** outputs laid out like the inputs: [chunks, ...output shape with batch = streams] */
  outputs: NamedTensors
}

/** The state a verifier replays a chunk from, as the provider serves it. */
export interface SequenceStateSource {
  /** the provider's incoming state of leaf `index` */
  incomingState(index: number): Promise<NamedTensors>
  /** the provider's preimage of leaf `index` */
  preimage(index: number): Promise<SequenceLeafPreimage>
  /** the committed dataHash of leaf `index`, already proven against the committed root */
  expectedLeaf(index: number): Promise<Hex>
}

export function sequenceStateHash(state: NamedTensors): Hex {
  return hashTensors(SEQUENCE_STATE_DOMAIN, state)
}

export function sequenceLeafHash(p: SequenceLeafPreimage): Hex {
  const h = createHash('sha256')
    .update(SEQUENCE_LEAF_DOMAIN)
    .update(new Uint8Array([0]))
  for (const x of [p.stateIn, p.stateOut, p.outputs]) h.update(Buffer.from(x.slice(2), 'hex'))
  return `0x${h.digest('hex')}`
}

const mismatch = (msg: string, details?: string) =>
  new ExecutorError('EXECUTOR_INPUT_MISMATCH', msg, details === undefined ? {} : { details })

/** Entry `index` of axis 0, that axis dropped (a view). */
export function chunkOf(t: HostTensor, index: number): HostTensor {
  const bytes = elementCount(t.dims.slice(1)) * dtypeSize(t.dtype)
  return { dtype: t.dtype, dims: t.dims.slice(1), data: t.data.subarray(index * bytes, (index + 1) * bytes) }
}

/** The state pairs against the model: every name must be one of its inputs and outputs. */
function checkStatePairs(spec: SequenceJobSpec, sig: ModelSignature): void {
  const inputs = new Set(sig.inputs.map((v) => v.name))
  const outputs = new Set(sig.outputs.map((v) => v.name))
  for (const p of spec.state) {
    if (!inputs.has(p.input) || !outputs.has(p.output)) {
      throw mismatch(
        `state pair ${p.output}=${p.input} does not name ${outputs.has(p.output) ? `an input (${p.input})` : `an output (${p.output})`} of the model: fix --state ${p.output}=${p.input} (spec.state)`,
        `model inputs: ${[...inputs].join(', ')}; outputs: ${[...outputs].join(', ')}`,
      )
    }
  }
  for (const o of spec.outputs ?? []) {
    if (!outputs.has(o)) throw mismatch(`the model has no output ${o}`)
  }
}

/** The initial state of every stream, as one tensor per state input (batch = streams). */
function initialStates(
  spec: SequenceJobSpec,
  sig: ModelSignature,
  inputs: NamedTensors,
  axes: InputAxes,
  streams: number,
): NamedTensors {
  const out: NamedTensors = {}
  for (const p of spec.state) {
    const axis = axes[p.input]
    if (axis === 'broadcast' || axis === undefined) {
      throw mismatch(
        `state input ${p.input} is broadcast; each stream needs its own state: ${axisFix(p.input, '<axis>')}`,
      )
    }
    const given = inputs[p.input]
    if (given !== undefined) {
      out[p.input] = given
      continue
    }
    const want = sig.inputs.find((v) => v.name === p.input)!
    const dims = (want.shape ?? []).map((d, i) => (i === axis ? streams : d))
    const dynamic = dims.findIndex((d) => typeof d !== 'number')
    if (want.shape === undefined || dynamic >= 0) {
      throw mismatch(
        `state input ${p.input} has no initial state in the inputs file and its shape is not fixed, so it cannot start as zeros`,
        `add a tensor ${p.input} shaped like the model's [${want.shape?.join(', ')}] with ${streams} on axis ${axis}`,
      )
    }
    const dtype = want.type as HostTensor['dtype']
    const n = dims as number[]
    out[p.input] = { dtype, dims: n, data: new Uint8Array(elementCount(n) * dtypeSize(dtype)) }
  }
  return out
}

/** Checks a sequence job against its model; the plan every chunk runs with. */
export async function planSequence(
  rt: ExecutorRuntime,
  job: SequenceJob,
  signal: AbortSignal,
): Promise<SequencePlan> {
  const spec = parseJobSpec(job.spec)
  if (spec.kind !== 'sequence') throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'not a sequence job spec')
  checkProfile(spec.profile)
  const hash = checkModel(job.model, rt.options.maxModelBytes)
  const sig = await rt.signatureOf(job.model, hash, spec.profile, signal)
  checkStatePairs(spec, sig)
  const stateNames = new Set(spec.state.map((p) => p.input))
  const axes = resolveInputAxes(sig, spec.inputAxes)
  const sequenced = sig.inputs.filter((v) => !stateNames.has(v.name) && axes[v.name] !== 'broadcast')
  if (sequenced.length === 0) {
    throw mismatch(
      'a sequence job needs at least one input that changes from chunk to chunk',
      'every input is a state or broadcast input',
    )
  }
  const chunks = chunkCount(sequenced, job.inputs)
  // chunk 0 of every stream, with the initial states given, passes the inference checks
  const first: NamedTensors = {}
  for (const [name, t] of Object.entries(job.inputs)) {
    first[name] = sequenced.some((v) => v.name === name) ? chunkOf(t, 0) : t
  }
  const checked = sig.inputs.filter((v) => !stateNames.has(v.name) || first[v.name] !== undefined)
  const own = Object.fromEntries(checked.map((v) => [v.name, axes[v.name]!]))
  const pre = validateInputAxes({ ...sig, inputs: checked }, first, own, 1, rt.options.maxTensorElements)
  const all = initialStates(spec, sig, job.inputs, axes, pre.samples)
  const initial = Array.from({ length: pre.samples }, (_, s) => {
    const state: NamedTensors = {}
    for (const [name, t] of Object.entries(all)) state[name] = sliceAxis(t, axes[name] as number, s, s + 1)
    return state
  })
  return { spec, hash, sig, axes, streams: pre.samples, chunks, initial }
}

/** The sequenced inputs' common chunk count (their first axis in the file). */
function chunkCount(sequenced: ModelSignature['inputs'], inputs: NamedTensors): number {
  let chunks: number | undefined
  for (const v of sequenced) {
    const t = inputs[v.name]
    if (t === undefined) {
      throw mismatch(`the model's input ${v.name} is missing`, `given: ${Object.keys(inputs).join(', ')}`)
    }
    const n = t.dims[0]
    if (n === undefined || (v.shape !== undefined && t.dims.length !== v.shape.length + 1)) {
      throw mismatch(
        `sequenced input ${v.name} must hold [chunks, ...the model's shape]: it is [${t.dims.join(', ')}], the model takes [${v.shape?.join(', ')}]`,
        `if it is the same at every chunk, ${axisFix(v.name, 'broadcast')}`,
      )
    }
    if (chunks !== undefined && n !== chunks) {
      throw mismatch(`sequenced inputs disagree on the chunk count (${chunks} vs ${n} for ${v.name})`)
    }
    chunks = n
  }
  if (!chunks) throw mismatch('the sequence has no chunks')
  return chunks
}

/** Runs chunk `chunk` of stream `stream` from `state`: its leaf preimage, outputs and next state. */
export async function runChunk(
  rt: ExecutorRuntime,
  job: SequenceJob,
  plan: SequencePlan,
  at: { stream: number; chunk: number; state: NamedTensors },
  signal: AbortSignal,
): Promise<{ preimage: SequenceLeafPreimage; outputs: NamedTensors; next: NamedTensors }> {
  const { spec, hash, axes } = plan
  const feeds: NamedTensors = { ...at.state }
  for (const [name, t] of Object.entries(job.inputs)) {
    if (name in at.state) continue
    const axis = axes[name]
    const copy = (x: HostTensor) => (rt.options.isolation === 'process' ? x : { ...x, data: x.data.slice() })
    feeds[name] =
      axis === 'broadcast' || axis === undefined
        ? copy(t)
        : copy(sliceAxis(chunkOf(t, at.chunk), axis, at.stream, at.stream + 1))
  }
  for (const [name, t] of Object.entries(at.state)) feeds[name] = { ...t, data: t.data.slice() }
  const wanted =
    spec.outputs === undefined
      ? undefined
      : [...new Set([...spec.outputs, ...spec.state.map((p) => p.output)])]
  const r = await rt.running().run(
    {
      type: 'infer',
      modelHash: hash,
      profile: spec.profile,
      feeds,
      outputs: wanted,
      maxTensorElements: rt.options.maxTensorElements,
    },
    { model: { hash, bytes: job.model }, signal, transfer: true },
  )
  const next: NamedTensors = {}
  for (const p of spec.state) {
    const t = r.outputs[p.output]
    if (t === undefined)
      throw new ExecutorError('EXECUTOR_RUN_FAILED', `the model gave no state output ${p.output}`)
    next[p.input] = t
  }
  const preimage = {
    stateIn: sequenceStateHash(at.state),
    stateOut: sequenceStateHash(next),
    outputs: r.dataHash,
  }
  return { preimage, outputs: r.outputs, next }
}

export async function checkSequence(
  rt: ExecutorRuntime,
  job: SequenceJob,
  o: RunOptions,
): Promise<{ streams: number; chunks: number; leaves: number }> {
  const { signal, done } = rt.jobSignal(o)
  try {
    const plan = await planSequence(rt, job, signal)
    return { streams: plan.streams, chunks: plan.chunks, leaves: plan.streams * plan.chunks }
  } finally {
    done()
  }
}

export function runSequence(rt: ExecutorRuntime, job: SequenceJob, o: RunOptions): Promise<SequenceResult> {
  return rt.tracked('sequence', async () => {
    const { signal, done } = rt.jobSignal(o)
    try {
      const plan = await planSequence(rt, job, signal)
      // streams run side by side on the pool; the chunks of one stream one after another
      const streams = await Promise.all(
        plan.initial.map(async (initial, stream) => {
          const chunks: Awaited<ReturnType<typeof runChunk>>[] = []
          const states: NamedTensors[] = []
          let state = initial
          for (let chunk = 0; chunk < plan.chunks; chunk++) {
            states.push(state)
            const r = await runChunk(rt, job, plan, { stream, chunk, state }, signal)
            chunks.push(r)
            state = r.next
          }
          return { chunks, states }
        }),
      )
      return sequenceResult(plan, streams)
    } finally {
      done()
    }
  })
}

function sequenceResult(
  plan: SequencePlan,
  streams: { chunks: { preimage: SequenceLeafPreimage; outputs: NamedTensors }[]; states: NamedTensors[] }[],
): SequenceResult {
  const preimages = streams.flatMap((s) => s.chunks.map((c) => c.preimage))
  const dataHashes = preimages.map(sequenceLeafHash)
  const axesOut = outputAxes(plan.sig)
  const outputs: NamedTensors = {}
  for (const name of Object.keys(streams[0]!.chunks[0]!.outputs)) {
    const perChunk = Array.from({ length: plan.chunks }, (_, c) =>
      concatAxis(
        name,
        streams.map((s) => s.chunks[c]!.outputs[name]!),
        axesOut[name] ?? 0,
      ),
    )
    outputs[name] = stackChunks(perChunk)
  }
  return {
    modelHash: plan.hash,
    streams: plan.streams,
    chunks: plan.chunks,
    dataHashes,
    preimages,
    states: streams.flatMap((s) => s.states),
    root: MerkleTree.fromDataHashes(dataHashes).root,
    outputs,
  }
}

/** Chunk tensors of one shape stacked on a new axis 0. */
function stackChunks(parts: HostTensor[]): HostTensor {
  const first = parts[0]!
  const data = new Uint8Array(parts.reduce((a, p) => a + p.data.byteLength, 0))
  let at = 0
  for (const p of parts) {
    data.set(p.data, at)
    at += p.data.byteLength
  }
  return { dtype: first.dtype, dims: [parts.length, ...first.dims], data }
}

/**
 * The verifier side: leaf i replayed from the provider's incoming state, which must hash to
 * the stateOut of the committed leaf i - 1 of its stream (the job's initial state at chunk 0).
 * runMicroBatch answers the replayed leaf's dataHash; a served state or preimage that does
 * not match what was committed fails the replay (EXECUTOR_INPUT_MISMATCH).
 */
export function sequenceReplay(
  rt: ExecutorRuntime,
  job: SequenceJob,
  source: SequenceStateSource,
): ReplayExecutor {
  let planned: Promise<SequencePlan> | undefined
  const replayOne = async (index: number, signal: AbortSignal): Promise<Hex> => {
    planned ??= planSequence(rt, job, signal)
    const plan = await planned
    if (!Number.isInteger(index) || index < 0 || index >= plan.streams * plan.chunks) {
      throw new ExecutorError(
        'EXECUTOR_SPEC_INVALID',
        `leaf ${index} is outside 0..${plan.streams * plan.chunks - 1}`,
      )
    }
    const stream = Math.floor(index / plan.chunks)
    const chunk = index % plan.chunks
    let state = plan.initial[stream]!
    if (chunk > 0) {
      const previous = await source.preimage(index - 1)
      if (sequenceLeafHash(previous).toLowerCase() !== (await source.expectedLeaf(index - 1)).toLowerCase()) {
        throw mismatch(`the served preimage of leaf ${index - 1} is not its committed leaf`)
      }
      state = await source.incomingState(index)
      if (sequenceStateHash(state).toLowerCase() !== previous.stateOut.toLowerCase()) {
        throw mismatch(
          `the served incoming state of leaf ${index} is not the committed state after leaf ${index - 1}`,
        )
      }
    }
    return sequenceLeafHash((await runChunk(rt, job, plan, { stream, chunk, state }, signal)).preimage)
  }
  return {
    async runMicroBatch(index, o = {}) {
      const { signal, done } = rt.jobSignal(o)
      try {
        return await replayOne(index, signal)
      } finally {
        done()
      }
    },
    async runTrainingSegment() {
      throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'a sequence job has no training segments')
    },
  }
}
