/**
 * Generation jobs across the roles: the provider stores its sequences (tokens and the logits
 * digest that chose each) as the job's output, a verifier checks sampled positions from them
 * with one prefill pass per prompt (executor/generate/replay.ts), and the requester rebuilds
 * every committed leaf from them, so the tokens it keeps are the committed ones.
 */
import type { TokenRun } from '@ocn/protocol'
import type { ReplayExecutor } from '@ocn/prover'
import type { Hex } from 'viem'
import type { ArtifactStore } from '../artifacts/store.js'
import type { Executor, GeneratedSequence, TokenEvent } from '../executor/executor.js'
import { generationLeaves, promptsOf } from '../executor/generate/run.js'
import type { GenerateJobSpec } from '../executor/spec.js'
import type { NamedTensors } from '../executor/tensor.js'
import type { Network } from '../p2p/network.js'
import { RoleError } from './errors.js'

/** The output artifact of a generate job: what the requester and verifiers fetch. */
export interface GenerationManifest {
  kind: 'generate'
  /** per prompt: the generated tokens and, per token, the digest of the logits that chose it */
  sequences: GeneratedSequence[]
}

/** A manifest bigger than this is refused before it is parsed (65 536 positions × ~80 bytes). */
export const MAX_GENERATION_MANIFEST_BYTES = 64 * 1024 * 1024

/** Stores the sequences; the manifest's hash is the job's output. */
export async function storeGenerationResult(
  store: ArtifactStore,
  sequences: readonly GeneratedSequence[],
): Promise<Hex> {
  const manifest: GenerationManifest = { kind: 'generate', sequences: [...sequences] }
  return (await store.putBytes(new TextEncoder().encode(JSON.stringify(manifest)))).hash
}

const HASH = /^0x[0-9a-fA-F]{64}$/

export function parseGenerationManifest(bytes: Uint8Array): GenerationManifest {
  const bad = (why: string) =>
    new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `the generation manifest is malformed: ${why}`)
  if (bytes.byteLength > MAX_GENERATION_MANIFEST_BYTES) throw bad('too large')
  let m: GenerationManifest
  try {
    m = JSON.parse(new TextDecoder().decode(bytes)) as GenerationManifest
  } catch {
    throw bad('not JSON')
  }
  if (m?.kind !== 'generate' || !Array.isArray(m.sequences)) throw bad('no sequences')
  for (const s of m.sequences) {
    if (!Array.isArray(s?.tokens) || !Array.isArray(s.digests)) throw bad('a sequence has no tokens')
    if (!s.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 2 ** 31))
      throw bad('a token is not an id')
    if (!s.digests.every((d) => typeof d === 'string' && HASH.test(d))) throw bad('a digest is not a hash')
  }
  return m
}

/** The number of leaves a generate job has: maxNewTokens per prompt. */
export function generationLeafCount(spec: GenerateJobSpec, inputs: NamedTensors): number {
  return promptsOf(inputs, undefined).length * spec.maxNewTokens
}

/**
 * The verifier's (and a juror's) replay of a generate job: the provider's sequences come from
 * its manifest and must rebuild the committed root before any position is checked.
 */
export function generationReplayFor(
  components: { store: ArtifactStore; network: Network; executor: Executor },
  assets: { spec: GenerateJobSpec; model: Uint8Array; inputs: NamedTensors },
  provider: {
    peer: string | undefined
    outputHash: Hex | undefined
    sampled?: readonly number[] | undefined
  },
  committedRoot: Hex,
): ReplayExecutor {
  const { store, network, executor } = components
  const peers = provider.peer === undefined ? [] : [provider.peer]
  return executor.generationReplay(
    { spec: assets.spec, model: assets.model, inputs: assets.inputs },
    {
      async claimedSequences() {
        const hash = provider.outputHash
        if (hash === undefined) throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', 'no generation manifest')
        if (!(await store.has(hash))) await network.artifacts.fetch(hash, peers)
        return parseGenerationManifest(await store.getBytes(hash)).sequences
      },
    },
    committedRoot,
    // the verifier's sample: each prompt's prefill covers only up to its last sampled position
    provider.sampled === undefined ? {} : { sampled: provider.sampled },
  )
}

/**
 * The requester's check of a generate result: the manifest's sequences must give every
 * committed leaf. Returns the leaves that differ (all of them when the shape is wrong).
 */
export function generationMismatches(
  manifest: GenerationManifest,
  maxNewTokens: number,
  dataHashes: readonly Hex[],
): number[] {
  const leaves = generationLeaves(
    manifest.sequences.map((s) => ({
      tokens: s.tokens.slice(0, maxNewTokens),
      digests: s.digests.slice(0, maxNewTokens),
    })),
    maxNewTokens,
  )
  if (leaves.length !== dataHashes.length || manifest.sequences.some((s) => s.tokens.length > maxNewTokens))
    return dataHashes.map((_, i) => i)
  const bad: number[] = []
  leaves.forEach((leaf, i) => {
    if (leaf.toLowerCase() !== dataHashes[i]?.toLowerCase()) bad.push(i)
  })
  return bad
}

/**
 * Collects streamed tokens per prompt and hands them on at most every `intervalMs` (each
 * hand-on is a durable job write, so it is throttled); `flush` hands on what is left.
 */
export function tokenStream(
  prompts: number,
  intervalMs: number,
  publish: (tokens: number[][]) => Promise<void>,
): { onToken: (e: TokenEvent) => void; flush: () => Promise<void> } {
  const tokens: number[][] = Array.from({ length: prompts }, () => [])
  let last = 0
  let pending: Promise<void> = Promise.resolve()
  const push = () => {
    last = Date.now()
    const copy = tokens.map((t) => [...t])
    // one write at a time, in order; a failed progress write never fails the job
    pending = pending.then(() => publish(copy)).catch(() => {})
  }
  return {
    onToken(e) {
      const row = tokens[e.prompt]
      if (row === undefined) return
      row[e.position] = e.token
      if (Date.now() - last >= intervalMs) push()
    },
    async flush() {
      push()
      await pending
    },
  }
}

/** How the provider batches the tokens it pushes to the requester (tokenPusher). */
export interface TokenPushOptions {
  /** a batch goes out once this many tokens wait... */
  batchTokens: number
  /** ...or this long after the first of them was picked */
  intervalMs: number
  /** failed sends in a row after which the job streams no more (its result is unaffected) */
  maxFailures: number
  /**
   * how long `close` waits for the last tokens to be taken (the commit waits for it); then the
   * job streams no more. Default TOKEN_FLUSH_TIMEOUT_MS.
   */
  flushTimeoutMs?: number
}

/**
 * The longest a generate job's commit waits for its last streamed tokens to be taken: a
 * requester that does not answer delays the commit this long at most, and fails nothing.
 */
export const TOKEN_FLUSH_TIMEOUT_MS = 5_000

// five tries back off 100, 200, 400 and 800 ms: long enough for a requester that is still
// recording the award (it refuses batches from a provider it has not yet recorded)
export const defaultTokenPushOptions: TokenPushOptions = {
  batchTokens: 16,
  intervalMs: 100,
  maxFailures: 5,
  flushTimeoutMs: TOKEN_FLUSH_TIMEOUT_MS,
}

/**
 * Pushes a generate job's tokens to the requester while they are picked: waiting tokens go out
 * as runs (one prompt's consecutive positions) once `batchTokens` wait or `intervalMs` after
 * the first, one send at a time and in order; tokens picked during a send wait for the next.
 * Streaming is a courtesy to the requester: a failed send never fails the job; its runs are
 * tried again after a backoff (intervalMs, doubling), and after `maxFailures` failures in a
 * row the job streams no more. `close` sends what waits, retries included, and resolves once
 * the requester took every token (a send resolves when the requester's handler took its batch:
 * sendTokens) or `flushTimeoutMs` passed; the provider awaits it before it commits, so a job
 * shorter than `intervalMs` still streams all its tokens before its results exist.
 */
export function tokenPusher(
  send: (runs: TokenRun[]) => Promise<void>,
  options: TokenPushOptions = defaultTokenPushOptions,
): { onToken: (e: TokenEvent) => void; close: () => Promise<void> } {
  let waiting: TokenRun[] = []
  let count = 0
  let timer: NodeJS.Timeout | undefined
  let sending: Promise<void> | undefined
  let failures = 0
  const stopped = () => failures >= options.maxFailures
  const backoffMs = () => options.intervalMs * 2 ** Math.max(0, failures - 1)
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (stopped()) waiting = []
    if (sending !== undefined || waiting.length === 0) return
    const runs = waiting
    waiting = []
    count = 0
    sending = send(runs)
      .then(
        () => {
          failures = 0
        },
        () => {
          failures++
          // the failed runs go first again, so the rows the requester builds stay in order
          if (!stopped()) waiting = [...runs, ...waiting]
        },
      )
      .finally(() => {
        sending = undefined
        if (stopped()) waiting = []
        else if (waiting.length > 0 && failures === 0) flush()
        else if (waiting.length > 0) timer ??= setTimeout(flush, backoffMs())
      })
  }
  return {
    onToken(e) {
      if (stopped()) return
      const last = waiting.findLast((r) => r.prompt === e.prompt)
      if (last !== undefined && last.from + last.tokens.length === e.position) last.tokens.push(e.token)
      else waiting.push({ prompt: e.prompt, from: e.position, tokens: [e.token] })
      count++
      if (count >= options.batchTokens) flush()
      else timer ??= setTimeout(flush, options.intervalMs)
    },
    async close() {
      const drained = (async () => {
        for (;;) {
          if (sending !== undefined) {
            await sending
            continue
          }
          if (stopped() || waiting.length === 0) return
          // a retry is due after its backoff: wait it here rather than leave it to the timer
          if (failures > 0) await new Promise((resolve) => setTimeout(resolve, backoffMs()))
          flush()
        }
      })()
      let timeout: NodeJS.Timeout | undefined
      const timedOut = new Promise<'timeout'>((resolve) => {
        timeout = setTimeout(() => resolve('timeout'), options.flushTimeoutMs ?? TOKEN_FLUSH_TIMEOUT_MS)
      })
      const outcome = await Promise.race([drained, timedOut])
      clearTimeout(timeout)
      if (outcome !== 'timeout') return
      // the requester did not take the last tokens in time: stream no more (a send under way
      // ends by its own timeout); the committed result is what counts
      failures = options.maxFailures
      waiting = []
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    },
  }
}
