/**
 * Generation jobs on the main thread: the checks before decoding, one worker task per prompt
 * (prompts decode in parallel on the pool, each with its own KV cache), tokens streamed as
 * workers pick them, and the commitment: one leaf per (prompt, position), maxNewTokens per
 * prompt whatever the sequence's length, padded after a stop.
 */
import { MerkleTree, merkleLeaf } from '@ocn/protocol'
import type { Hex } from 'viem'
import { checkModel, checkProfile } from '../checks.js'
import { ExecutorError } from '../errors.js'
import type { RunOptions } from '../job-signal.js'
import type { ExecutorRuntime } from '../runtime.js'
import { type GenerateJobSpec, parseGenerateJobSpec } from '../spec.js'
import type { HostTensor, NamedTensors } from '../tensor.js'
import { type DecoderLayout, decoderLayout } from './layout.js'
import type { CheckedPositions, DecodeParams } from './params.js'
import { generationLeaf, PAD_TOKEN, ZERO_DIGEST } from './sampling.js'
import { DEFAULT_TIE_TOLERANCE } from './spec.js'

export interface GenerateJob {
  spec: GenerateJobSpec
  model: Uint8Array
  /** `input_ids` int64 [prompts, length], optional `attention_mask` of the same shape */
  inputs: NamedTensors
}

export interface GeneratedSequence {
  /** the generated tokens; a stop token, when one was picked, is the last */
  tokens: number[]
  /** per token: SHA-256 of the logits row that chose it (sampling.ts logitsDigest) */
  digests: Hex[]
}

export interface GenerateResult {
  modelHash: Hex
  sequences: GeneratedSequence[]
  /** prompts × maxNewTokens, prompt-major */
  dataHashes: Hex[]
  tree: MerkleTree
  root: Hex
}

export interface TokenEvent {
  prompt: number
  position: number
  token: number
}

export interface GenerateRunOptions extends RunOptions {
  /** each token as soon as its worker picked it (per prompt in order; prompts interleave) */
  onToken?: (event: TokenEvent) => void
}

export interface GeneratePlan {
  spec: GenerateJobSpec
  hash: Hex
  layout: DecoderLayout
  prompts: number[][]
}

function int64Rows(name: string, t: HostTensor | undefined): number[][] | undefined {
  if (!t) return undefined
  if (t.dtype !== 'int64' || t.dims.length !== 2) {
    throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', `input ${name} must be int64 [prompts, length]`, {
      details: `got ${t.dtype} [${t.dims.join(', ')}]`,
    })
  }
  const [rows, cols] = t.dims as [number, number]
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength)
  return Array.from({ length: rows }, (_, r) =>
    Array.from({ length: cols }, (_, c) => Number(view.getBigInt64((r * cols + c) * 8, true))),
  )
}

/** The prompts' token ids, padding (attention_mask 0) dropped. */
export function promptsOf(inputs: NamedTensors, vocab: number | undefined): number[][] {
  const extra = Object.keys(inputs).find((n) => n !== 'input_ids' && n !== 'attention_mask')
  if (extra)
    throw new ExecutorError(
      'EXECUTOR_INPUT_MISMATCH',
      `a generate job takes input_ids and attention_mask, not ${extra}`,
    )
  const ids = int64Rows('input_ids', inputs.input_ids)
  if (!ids || ids.length === 0)
    throw new ExecutorError(
      'EXECUTOR_INPUT_MISMATCH',
      'a generate job needs input_ids with at least one prompt',
    )
  const mask = int64Rows('attention_mask', inputs.attention_mask)
  if (mask && (mask.length !== ids.length || mask[0]!.length !== ids[0]!.length)) {
    throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', 'attention_mask must have the shape of input_ids')
  }
  return ids.map((row, p) => {
    const prompt = row.filter((_, i) => !mask || mask[p]![i] !== 0)
    if (prompt.length === 0) throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', `prompt ${p} is all padding`)
    const bad = prompt.find((t) => t < 0 || (vocab !== undefined && t >= vocab))
    if (bad !== undefined)
      throw new ExecutorError(
        'EXECUTOR_INPUT_MISMATCH',
        `prompt ${p} holds token ${bad}, outside the vocabulary of ${vocab}`,
      )
    return prompt
  })
}

/** The checks before any decoding or checking: the spec, the model's hash and layout, the prompts. */
export async function planGeneration(
  rt: ExecutorRuntime,
  job: GenerateJob,
  signal: AbortSignal,
): Promise<GeneratePlan> {
  const spec = parseGenerateJobSpec(job.spec)
  checkProfile(spec.profile)
  const hash = checkModel(job.model, rt.options.maxModelBytes)
  const layout = decoderLayout(await rt.signatureOf(job.model, hash, spec.profile, signal))
  const prompts = promptsOf(job.inputs, layout.vocab)
  const longest = Math.max(...prompts.map((p) => p.length))
  if (layout.vocab !== undefined && longest * layout.vocab > rt.options.maxTensorElements) {
    throw new ExecutorError(
      'EXECUTOR_TENSOR_TOO_LARGE',
      'the prefill would return more logits than allowed',
      {
        details: `${longest} prompt tokens × ${layout.vocab} vocab > ${rt.options.maxTensorElements} elements (executor maxTensorElements)`,
      },
    )
  }
  return { spec, hash, layout, prompts }
}

function paramsOf(plan: GeneratePlan, prompt: number): DecodeParams {
  const s = plan.spec
  return {
    layout: plan.layout,
    prompt: plan.prompts[prompt]!,
    promptIndex: prompt,
    rule: s.sampling,
    seed: s.seed,
    maxNewTokens: s.maxNewTokens,
    stopTokens: s.stopTokens,
  }
}

/** The dataHash of leaf (prompt p, position i) of a sequence, padding after its end. */
export function leafDataHash(s: GeneratedSequence, p: number, i: number): Hex {
  return i < s.tokens.length
    ? generationLeaf(p, i, s.tokens[i]!, s.digests[i]!)
    : generationLeaf(p, i, PAD_TOKEN, ZERO_DIGEST)
}

/** The leaves of a generation: maxNewTokens per prompt, padding leaves after a stop. */
export function generationLeaves(sequences: readonly GeneratedSequence[], maxNewTokens: number): Hex[] {
  return sequences.flatMap((s, p) => Array.from({ length: maxNewTokens }, (_, i) => leafDataHash(s, p, i)))
}

/**
 * The commitment built while the worker decodes: each streamed (token, digest) has its
 * dataHash and Merkle leaf hashed on the host as it arrives, so after the last token only
 * the inner nodes remain (on two cores the leaf hashing, ~3/4 of the tree's cost, overlaps
 * decoding). `commit` uses a streamed leaf only where the final sequence holds the same
 * token and digest, and hashes every other position itself.
 */
export function streamedCommitment(maxNewTokens: number) {
  const streamed = new Map<number, { token: number; digest: Hex; dataHash: Hex; leaf: Hex }>()
  return {
    add(prompt: number, position: number, token: number, digest: Hex): void {
      if (position >= maxNewTokens) return
      const index = prompt * maxNewTokens + position
      const dataHash = generationLeaf(prompt, position, token, digest)
      streamed.set(index, { token, digest, dataHash, leaf: merkleLeaf(index, dataHash) })
    },
    commit(sequences: readonly GeneratedSequence[]): Pick<GenerateResult, 'dataHashes' | 'tree' | 'root'> {
      const dataHashes: Hex[] = []
      const leaves: Hex[] = []
      sequences.forEach((s, p) => {
        for (let i = 0; i < maxNewTokens; i++) {
          const index = p * maxNewTokens + i
          const hit = streamed.get(index)
          if (hit && i < s.tokens.length && hit.token === s.tokens[i] && hit.digest === s.digests[i]) {
            dataHashes.push(hit.dataHash)
            leaves.push(hit.leaf)
          } else {
            const dataHash = leafDataHash(s, p, i)
            dataHashes.push(dataHash)
            leaves.push(merkleLeaf(index, dataHash))
          }
        }
      })
      const tree = MerkleTree.fromLeaves(leaves)
      return { dataHashes, tree, root: tree.root }
    },
  }
}

export function runGeneration(
  rt: ExecutorRuntime,
  job: GenerateJob,
  o: GenerateRunOptions,
): Promise<GenerateResult> {
  return rt.tracked('generate', async () => {
    const { signal, done } = rt.jobSignal(o)
    try {
      const plan = await planGeneration(rt, job, signal)
      const commitment = streamedCommitment(plan.spec.maxNewTokens)
      const sequences = await Promise.all(
        plan.prompts.map((_, p) =>
          rt.running().run(
            { type: 'generate', modelHash: plan.hash, profile: plan.spec.profile, params: paramsOf(plan, p) },
            {
              model: { hash: plan.hash, bytes: job.model },
              signal,
              onProgress: (e) => {
                if (!('tokens' in e)) return
                for (const [k, token] of e.tokens.entries()) {
                  o.onToken?.({ prompt: p, position: e.position + k, token })
                  const digest = e.digests[k]
                  if (digest !== undefined) commitment.add(p, e.position + k, token, digest)
                }
              },
            },
          ),
        ),
      )
      return { modelHash: plan.hash, sequences, ...commitment.commit(sequences) }
    } finally {
      done()
    }
  })
}

/** The tie tolerance a job's checks use (see GenerateFields.tieTolerance). */
export function tieToleranceOf(spec: GenerateJobSpec): number {
  if (spec.tieTolerance !== undefined) return spec.tieTolerance
  const c = spec.profile.comparison
  return c === 'bit-exact' ? DEFAULT_TIE_TOLERANCE : c.tolerance
}

/** What is wrong with a claimed sequence on its face (no model needed), or undefined. */
export function sequenceFault(s: GeneratedSequence, spec: GenerateJobSpec): string | undefined {
  const n = s.tokens.length
  if (n === 0 || n > spec.maxNewTokens || s.digests.length !== n)
    return `holds ${n} tokens for ${s.digests.length} digests`
  const stops = new Set(spec.stopTokens)
  const early = s.tokens.findIndex((t, i) => i < n - 1 && stops.has(t))
  if (early >= 0) return `goes on after the stop token at position ${early}`
  if (n < spec.maxNewTokens && !stops.has(s.tokens[n - 1]!)) return `ends at ${n} tokens without a stop token`
  return undefined
}

/**
 * The verifier's prefill check of one prompt's claimed sequence: per checked position (all
 * when `positions` is absent), accepted or not. `plan` is the job's, made once per replay.
 */
export async function checkSequence(
  rt: ExecutorRuntime,
  job: GenerateJob,
  plan: GeneratePlan,
  check: { prompt: number; sequence: GeneratedSequence; positions?: number[] },
  signal: AbortSignal,
): Promise<CheckedPositions> {
  const { prompt, sequence: s } = check
  if (prompt >= plan.prompts.length)
    throw new ExecutorError('EXECUTOR_SPEC_INVALID', `prompt ${prompt} is outside the job`)
  // the prefill's logits hold a row per position: refuse before the worker allocates them
  const rows = plan.prompts[prompt]!.length + s.tokens.length
  if (plan.layout.vocab !== undefined && rows * plan.layout.vocab > rt.options.maxTensorElements) {
    throw new ExecutorError(
      'EXECUTOR_TENSOR_TOO_LARGE',
      'the check pass would return more logits than allowed',
      {
        details: `${rows} positions × ${plan.layout.vocab} vocab > ${rt.options.maxTensorElements} elements (executor maxTensorElements)`,
      },
    )
  }
  return rt.running().run(
    {
      type: 'generate-check',
      modelHash: plan.hash,
      profile: plan.spec.profile,
      params: {
        ...paramsOf(plan, prompt),
        tokens: s.tokens,
        tieTolerance: tieToleranceOf(plan.spec),
        ...(check.positions === undefined ? {} : { positions: check.positions }),
      },
    },
    { model: { hash: plan.hash, bytes: job.model }, signal },
  )
}
