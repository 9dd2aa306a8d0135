/**
 * The decoding loop and its check, run inside an executor worker (never on the main
 * thread): KV-cache steps that pick one token each under the job's sampling rule, and the
 * verifier's single prefill pass over prompt plus generated tokens.
 */
import * as ort from 'onnxruntime-node'
import type { Hex } from 'viem'
import { ExecutorError } from '../errors.js'
import { CHECK_LOGITS_OUTPUT, CHECK_ROWS_INPUT } from './check-graph.js'
import { KvCache } from './kv-cache.js'
import type { KvStream } from './kv-graph.js'
import type { CheckedPositions, CheckParams, Decoded, DecodeParams, DecoderLayout } from './params.js'
import { acceptsToken, logitsDigest, pickToken, uniformFor } from './sampling.js'

const ints = (values: number[]) =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    [1, values.length],
  )

/** The check-rows model's row indices: int64 [rows]. */
const rowIndices = (rows: number[]) =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(rows, (v) => BigInt(v)),
    [rows.length],
  )

/**
 * The feeds of one call: `ids` after `pastLength` cached positions, the cache taken from the
 * previous call's `present` outputs, or from `cache` (a KvCache's feeds) when given.
 */
function feedsFor(
  layout: DecoderLayout,
  ids: number[],
  pastLength: number,
  past: ort.InferenceSession.OnnxValueMapType | undefined,
  cache?: Record<string, ort.Tensor>,
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: ints(ids),
    // filled as int64 directly: a number array converted per element cost each step ~L BigInts
    attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLength + ids.length).fill(1n), [
      1,
      pastLength + ids.length,
    ]),
  }
  if (layout.positionIds) feeds.position_ids = ints(ids.map((_, i) => pastLength + i))
  if (cache) return Object.assign(feeds, cache)
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, layout.heads, 0, layout.headDim])
  for (const l of layout.layers) {
    feeds[l.pastKey] = (past?.[l.presentKey] as ort.Tensor | undefined) ?? empty()
    feeds[l.pastValue] = (past?.[l.presentValue] as ort.Tensor | undefined) ?? empty()
  }
  return feeds
}

async function run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, fetches?: string[]) {
  try {
    return await (fetches === undefined ? session.run(feeds) : session.run(feeds, fetches))
  } catch (cause) {
    throw new ExecutorError('EXECUTOR_RUN_FAILED', 'ONNX Runtime failed running the decoder', {
      details: cause instanceof Error ? cause.message : String(cause),
      cause,
    })
  }
}

/** Row `row` of a logits output [1, seq, vocab]. */
function logitsRow(out: ort.InferenceSession.OnnxValueMapType, row: number, name = 'logits'): Float32Array {
  const t = out[name] as ort.Tensor
  const vocab = t.dims[2]!
  return (t.data as Float32Array).subarray(row * vocab, (row + 1) * vocab)
}

/**
 * Tokens wait in the worker until PROGRESS_MS passed since the last progress message, or
 * PROGRESS_TOKENS wait (which bounds a message's size). Each message wakes the host, which
 * hashes the tokens' leaves on the other core: with a message per 8 tokens a fast decoder
 * (~0.35 ms a step on the fixture) sent 32 a generation and ran ~5% slower than without
 * them. The provider role passes tokens on at most every 250 ms anyway.
 */
const PROGRESS_TOKENS = 256
const PROGRESS_MS = 20

/**
 * Hands picked tokens and their logits digests on in runs (`post(from, tokens, digests)`):
 * the first token at once (time to first token is what a watcher notices), then once
 * PROGRESS_MS passed since the last run went or PROGRESS_TOKENS wait, so a fast decoder sends
 * a message per 20 ms of tokens and a slow one a message per token. The digests let the host
 * hash each position's leaf while the worker decodes on (run.ts). `flush` sends what waits.
 */
export function tokenProgress(post: (position: number, tokens: number[], digests: Hex[]) => void) {
  let waiting: number[] = []
  let waitingDigests: Hex[] = []
  let from = 0
  let last = Date.now()
  let first = true
  const flush = () => {
    if (waiting.length > 0) post(from, waiting, waitingDigests)
    waiting = []
    waitingDigests = []
    last = Date.now()
  }
  return {
    add(position: number, token: number, digest: Hex): void {
      if (waiting.length === 0) from = position
      waiting.push(token)
      waitingDigests.push(digest)
      if (first || waiting.length >= PROGRESS_TOKENS || Date.now() - last >= PROGRESS_MS) flush()
      first = false
    },
    flush,
  }
}

/** One decoding call: `ids` after the positions decoded so far; returns the last row's logits. */
type Step = (ids: number[], pastLength: number) => Promise<Float32Array>

/** Steps that feed each call's `present` outputs back as the next call's past (the plain loop). */
function plainSteps(session: ort.InferenceSession, layout: DecoderLayout): Step {
  let out: ort.InferenceSession.OnnxValueMapType | undefined
  return async (ids, pastLength) => {
    out = await run(session, feedsFor(layout, ids, pastLength, out))
    return logitsRow(out, ids.length - 1)
  }
}

/** The decoding session of kv-graph.ts: the decoder that also outputs each step's new cache rows. */
export interface KvDecoding {
  session: ort.InferenceSession
  streams: KvStream[]
}

/** Steps that fetch the logits and the new cache rows only, the cache kept in a KvCache. */
function cachedSteps(
  kv: KvDecoding,
  layout: DecoderLayout,
  capacity: number,
): { step: Step; cache: KvCache } {
  const cache = new KvCache(kv.streams, layout.heads, layout.headDim, capacity)
  const fetches = [...new Set(['logits', ...kv.streams.map((s) => s.fresh)])]
  const step: Step = async (ids, pastLength) => {
    const out = await run(kv.session, feedsFor(layout, ids, pastLength, undefined, cache.feeds()), fetches)
    cache.append(out, ids.length)
    return logitsRow(out, ids.length - 1)
  }
  return { step, cache }
}

/**
 * Prefill, then one cached step per token until a stop token or maxNewTokens. onToken sees
 * each token (with its digest) as it is picked; `cancelled` is polled between steps. With
 * `kv` (kv-graph.ts, already probed) the cache stays in reused buffers; the tokens and
 * logits are the same bit for bit.
 */
export async function decode(
  session: ort.InferenceSession,
  p: DecodeParams,
  onToken: (position: number, token: number, digest: Hex) => void,
  cancelled: () => boolean,
  kv?: KvDecoding,
): Promise<Decoded> {
  const tokens: number[] = []
  const digests: Hex[] = []
  const stops = new Set(p.stopTokens)
  const step = kv
    ? cachedSteps(kv, p.layout, p.prompt.length + p.maxNewTokens).step
    : plainSteps(session, p.layout)
  let logits = await step(p.prompt, 0)
  for (let i = 0; i < p.maxNewTokens; i++) {
    // greedy picks ignore u: no hash per step
    const u = p.rule.temperature === 0 ? 0 : uniformFor(p.seed, p.promptIndex, i)
    const token = pickToken(logits, p.rule, u)
    const digest = logitsDigest(logits)
    tokens.push(token)
    digests.push(digest)
    onToken(i, token, digest)
    if (stops.has(token) || i === p.maxNewTokens - 1) break
    if (cancelled()) throw new ExecutorError('EXECUTOR_ABORTED', 'the generation was cancelled')
    logits = await step([token], p.prompt.length + i)
  }
  return { tokens, digests }
}

/** The largest magnitude in a row, at least 1 (the tie tolerance is relative to it). */
function scaleOf(logits: Float32Array): number {
  let scale = 1
  for (let k = 0; k < logits.length; k++) {
    const v = logits[k]!
    if (v > scale) scale = v
    else if (-v > scale) scale = -v
  }
  return scale
}

/**
 * The verifier's pass: prompt plus the claimed tokens in one prefill, and per checked
 * position whether the claimed token is what the rule picks from these logits (within the
 * tie tolerance, relative to the row's largest magnitude) and, for a rejected token, the digest
 * the row hashes to.
 * The prefill stops at the last checked position and fetches only the logits (no KV cache);
 * only the checked positions are judged (all of them when none are named), and only the
 * rejected ones hashed.
 * With `rows` (the check-rows model of check-graph.ts, already probed) the row-wise tail of
 * the network runs for the checked positions only.
 */
export async function checkDecoded(
  session: ort.InferenceSession,
  p: CheckParams,
  rows?: ort.InferenceSession,
): Promise<CheckedPositions> {
  const positions = (p.positions ?? p.tokens.map((_, i) => i)).filter(
    (i) => Number.isInteger(i) && i >= 0 && i < p.tokens.length,
  )
  if (positions.length === 0) return { positions: [], accepted: [], digests: [] }
  const last = Math.max(...positions)
  const sequence = [...p.prompt, ...p.tokens.slice(0, last)]
  const feeds = feedsFor(p.layout, sequence, 0, undefined)
  const rowOf = (i: number) => p.prompt.length - 1 + i
  let row: (k: number) => Float32Array
  if (rows) {
    feeds[CHECK_ROWS_INPUT] = rowIndices(positions.map(rowOf))
    const out = await run(rows, feeds, [CHECK_LOGITS_OUTPUT])
    row = (k) => logitsRow(out, k, CHECK_LOGITS_OUTPUT)
  } else {
    const out = await run(session, feeds, ['logits'])
    row = (k) => logitsRow(out, rowOf(positions[k]!))
  }
  const accepted: boolean[] = []
  const digests: (Hex | undefined)[] = []
  positions.forEach((i, k) => {
    const logits = row(k)
    const u = p.rule.temperature === 0 ? 0 : uniformFor(p.seed, p.promptIndex, i)
    const ok = acceptsToken(logits, p.rule, u, p.tokens[i]!, p.tieTolerance * scaleOf(logits))
    accepted.push(ok)
    digests.push(ok ? undefined : logitsDigest(logits))
  })
  return { positions, accepted, digests }
}

/** How far the check-rows model's logits may be from the plain prefill's on the probe, relative to the row's scale. */
const PROBE_TOLERANCE = 1e-4

/**
 * Whether the check-rows model gives the plain prefill's logits: a few positions of a short
 * probe sequence through both, rows compared within PROBE_TOLERANCE. Any failure (the rewrite
 * gathered a tensor whose sequence axis is elsewhere, say) answers false, never throws: the
 * check pass then keeps the plain prefill.
 */
export async function rowsModelAgrees(
  full: ort.InferenceSession,
  rows: ort.InferenceSession,
  layout: DecoderLayout,
): Promise<boolean> {
  const probe = [0, 1, 2, 3, 4].map((t) => t % (layout.vocab ?? 5))
  const checked = [1, 4]
  try {
    const plain = await full.run(feedsFor(layout, probe, 0, undefined), ['logits'])
    const feeds = feedsFor(layout, probe, 0, undefined)
    feeds[CHECK_ROWS_INPUT] = rowIndices(checked)
    const picked = await rows.run(feeds, [CHECK_LOGITS_OUTPUT])
    return checked.every((r, k) => {
      const a = logitsRow(plain, r)
      const b = logitsRow(picked, k, CHECK_LOGITS_OUTPUT)
      const tolerance = PROBE_TOLERANCE * scaleOf(a)
      return a.length === b.length && a.every((v, j) => Math.abs(v - b[j]!) <= tolerance)
    })
  } catch {
    return false
  }
}

/** The same float32 values bit for bit (so -0 differs from 0 and NaNs compare by payload). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length)
  return x.every((v, i) => v === y[i])
}

/** The probe's prompt and the tokens it then feeds one by one. */
const KV_PROBE = { prompt: [0, 1, 2, 3, 4], steps: [5, 6, 7] }

/**
 * Whether the decoding session decodes exactly as the plain one: a short prompt and a few
 * steps through both, the logits and the cache compared bit for bit at every step (the
 * tokens a job commits must not depend on which loop a provider ran). Any failure answers
 * false, never throws: decoding then keeps the plain loop.
 */
export async function kvModelAgrees(
  full: ort.InferenceSession,
  kv: KvDecoding,
  layout: DecoderLayout,
): Promise<boolean> {
  const vocab = layout.vocab ?? 8
  const prompt = KV_PROBE.prompt.map((t) => t % vocab)
  try {
    let plainOut = await full.run(feedsFor(layout, prompt, 0, undefined))
    const { step, cache } = cachedSteps(kv, layout, prompt.length + KV_PROBE.steps.length)
    let logits = await step(prompt, 0)
    for (let s = 0; ; s++) {
      if (!sameBits(logits, logitsRow(plainOut, (s === 0 ? prompt.length : 1) - 1))) return false
      const cached = cache.feeds()
      const cacheHolds = kv.streams.every((st) =>
        sameBits(
          cached[st.past]!.data as Float32Array,
          (plainOut[st.present] as ort.Tensor).data as Float32Array,
        ),
      )
      if (!cacheHolds) return false
      if (s === KV_PROBE.steps.length) return true
      const token = KV_PROBE.steps[s]! % vocab
      plainOut = await full.run(feedsFor(layout, [token], cache.positions, plainOut))
      logits = await step([token], cache.positions)
    }
  } catch {
    return false
  }
}
