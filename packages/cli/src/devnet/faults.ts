/**
 * Devnet fault injection: a provider fault plan (roles/provider/faults.ts) that cheats, which
 * the devnet hands to its cheating provider and the tests to theirs, so verifiers have a
 * cheater to catch. It is a component passed in, never a setting of the user's config. Each
 * result cheat rehashes what it changed, so the results, the leaves and the root agree with
 * each other and only a re-execution can tell; the answer cheats (answer-faults.ts) withhold
 * or mangle what a spot check asks for instead.
 */

import type { ProviderFaultPlan } from '@ocn/node'
import {
  checkpointHash,
  decodeSafetensors,
  encodeSafetensors,
  type GeneratedSequence,
  generationLeaf,
  type NamedTensors,
  outputsDataHash,
  sliceRows,
} from '@ocn/node'
import { type AttributionResult, attributionResultHash } from '@ocn/node/attribution'
import { attributionWeightsTree } from '@ocn/protocol'
import type { Hex } from 'viem'
import { ANSWER_CHEATS, type AnswerCheat, manifestWithheld, rewriteLeaves } from './answer-faults.js'
import { DevnetError } from './errors.js'

/** Which micro-batches a cheating provider corrupts: `fraction` of them, spread evenly, at least one. */
export function cheatIndices(leafCount: number, fraction: number): number[] {
  if (fraction <= 0 || leafCount === 0) return []
  const count = Math.min(leafCount, Math.max(1, Math.round(fraction * leafCount)))
  const out = new Set<number>()
  for (let j = 0; j < count; j++) out.add(Math.floor((j * leafCount) / count))
  return [...out]
}

/**
 * Flips the lowest bit of the first element of every row of the chosen micro-batches, then
 * rehashes them.
 */
export function corruptMicroBatches(
  result: { outputs: NamedTensors | undefined; dataHashes: readonly Hex[]; samples: number },
  microBatchSize: number,
  indices: readonly number[],
): { outputs: NamedTensors; dataHashes: Hex[] } {
  const outputs = result.outputs
  if (outputs === undefined) throw new Error('corruptMicroBatches needs the outputs')
  const dataHashes = [...result.dataHashes]
  for (const i of indices) {
    const start = i * microBatchSize
    const end = Math.min(result.samples, start + microBatchSize)
    const slice: NamedTensors = {}
    for (const [name, t] of Object.entries(outputs)) {
      const rowBytes = t.data.length / (t.dims[0] ?? 1)
      for (let r = start; r < end; r++) {
        const at = r * rowBytes
        t.data[at] = (t.data[at] ?? 0) ^ 1
      }
      slice[name] = sliceRows(t, start, end)
    }
    dataHashes[i] = outputsDataHash(slice)
  }
  return { outputs, dataHashes }
}

/**
 * Flips the lowest bit of the first byte of the first tensor of the chosen checkpoint states
 * and rehashes them, so only a segment replay tells.
 */
export function corruptCheckpoints(
  states: readonly Uint8Array[],
  hashes: readonly Hex[],
  indices: readonly number[],
): { states: Uint8Array[]; checkpointHashes: Hex[] } {
  const out = [...states]
  const checkpointHashes = [...hashes]
  for (const i of indices) {
    const state = out[i]
    if (state === undefined) continue
    const tensors = decodeSafetensors(state).tensors
    const name = Object.keys(tensors).sort()[0]
    if (name === undefined) continue
    const t = tensors[name]
    if (t === undefined || t.data.length === 0) continue
    const data = t.data.slice()
    data[0] = (data[0] ?? 0) ^ 1
    const corrupted = { ...tensors, [name]: { ...t, data } }
    out[i] = encodeSafetensors(corrupted)
    checkpointHashes[i] = checkpointHash(corrupted)
  }
  return { states: out, checkpointHashes }
}

/**
 * Forges the token of each chosen generated position (prompt-major leaf index over
 * maxNewTokens per prompt; padding positions are left alone): the token one below the picked
 * one (one above for 0), with the digest of the logits that picked the real one, and rehashes
 * the leaf, so the sequences, leaves and root agree and only a prefill check tells.
 */
export function forgeTokens(
  result: { sequences: readonly GeneratedSequence[]; dataHashes: readonly Hex[]; maxNewTokens: number },
  indices: readonly number[],
): { sequences: GeneratedSequence[]; dataHashes: Hex[]; forged: number[] } {
  const sequences = result.sequences.map((s) => ({ tokens: [...s.tokens], digests: [...s.digests] }))
  const dataHashes = [...result.dataHashes]
  const forged: number[] = []
  for (const i of indices) {
    const p = Math.floor(i / result.maxNewTokens)
    const at = i % result.maxNewTokens
    const s = sequences[p]
    const token = s?.tokens[at]
    if (s === undefined || token === undefined) continue
    s.tokens[at] = token === 0 ? 1 : token - 1
    dataHashes[i] = generationLeaf(p, at, s.tokens[at]!, s.digests[at]!)
    forged.push(i)
  }
  return { sequences, dataHashes, forged }
}

/**
 * Hands every contributor the next one's weight (so the noise
 * contributor is paid the signal's share) and rehashes, so the result is consistent with
 * itself and only a recomputation tells.
 */
export function forgeAttributionResult(result: AttributionResult): AttributionResult {
  const weights = result.weights.map((w, i, all) => ({ ...w, weight: all[(i + 1) % all.length]!.weight }))
  const body = { ...result, weights, weightsRoot: attributionWeightsTree(weights).root }
  const { resultHash: _old, ...rest } = body
  return { ...rest, resultHash: attributionResultHash(rest) }
}

export interface CheatingFaultPlanOptions {
  /**
   * the share of leaves (micro-batches, checkpoints after the seed's, or generated positions,
   * whose tokens are forged) corrupted; 0 for none
   */
  fraction: number
  /** commit a forged attribution result */
  forgeAttribution?: boolean
  /** answer spot checks dishonestly (answer-faults.ts); honest answers when absent */
  answer?: AnswerCheat
  /**
   * Die (SIGKILL, as `kill -9` would) right after the first commit transaction is sent and
   * before its receipt: the chaos test's "between the commit and its record" crash.
   */
  crashAfterCommitSent?: boolean
}

/** What the crash seam does: the process kills itself as `kill -9` would, with no cleanup. */
const killSelf = (): void => {
  process.kill(process.pid, 'SIGKILL')
}

/** A provider that commits corrupted results (or crashes mid-commit), as `options` says. */
export function createCheatingFaultPlan(
  options: CheatingFaultPlanOptions,
  crash: () => void = killSelf,
): ProviderFaultPlan {
  return {
    ...(options.crashAfterCommitSent === true
      ? {
          afterCommitSent(at, txHash) {
            at.log.warn({ jobId: at.jobId, txHash }, 'fault plan: crashing right after the commit was sent')
            crash()
          },
        }
      : {}),
    tamperInference(at, result) {
      const tampered = cheatIndices(result.dataHashes.length, options.fraction)
      if (tampered.length === 0) return { ...result, tampered }
      const corrupted = corruptMicroBatches(result, result.microBatchSize, tampered)
      at.log.warn(
        { jobId: at.jobId, cheated: tampered },
        'cheat mode: corrupted micro-batches before committing',
      )
      return { ...result, ...corrupted, tampered }
    },
    tamperTraining(at, result) {
      // checkpoint 0 is the seed's state, the later ones are what a cheat fakes
      const tampered = cheatIndices(result.states.length - 1, options.fraction).map((i) => i + 1)
      if (tampered.length === 0) return { ...result, tampered }
      const corrupted = corruptCheckpoints(result.states, result.checkpointHashes, tampered)
      at.log.warn(
        { jobId: at.jobId, cheated: tampered },
        'cheat mode: corrupted training checkpoints before committing',
      )
      return { ...corrupted, tampered }
    },
    tamperGeneration(at, result) {
      const chosen = cheatIndices(result.dataHashes.length, options.fraction)
      if (chosen.length === 0) return { ...result, tampered: [] }
      const { forged, ...rest } = forgeTokens(result, chosen)
      at.log.warn(
        { jobId: at.jobId, cheated: forged },
        'cheat mode: forged generated tokens before committing',
      )
      return { ...result, ...rest, tampered: forged }
    },
    tamperAttribution(at, result) {
      if (options.forgeAttribution !== true) return result
      at.log.warn({ jobId: at.jobId }, 'cheat mode: committing a forged attribution result')
      return forgeAttributionResult(result)
    },
    async tamperAnswer(at, _request, response) {
      const cheat = options.answer
      if (cheat === undefined || response.result === undefined) return response
      at.log.warn({ jobId: at.jobId, cheat }, 'cheat mode: answering a spot check dishonestly')
      const result = rewriteLeaves(cheat, response.result)
      // only a training job's output is a manifest of checkpoints
      if (cheat !== 'withhold-checkpoints' || result.leafCount === 0) return { ...response, result }
      const manifest = await at.read(result.outputHash).catch(() => undefined)
      if (manifest === undefined || !isTrainingManifest(manifest)) return { ...response, result }
      return { ...response, result: { ...result, outputHash: await at.publish(manifestWithheld(manifest)) } }
    },
  }
}

function isTrainingManifest(bytes: Uint8Array): boolean {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { checkpoints?: unknown }
    return Array.isArray(parsed.checkpoints)
  } catch {
    return false
  }
}

/** Where the devnet hands its faulty node (bin/faulty-node.ts) the plan's options, as JSON. */
export const DEVNET_FAULTS_ENV = 'OCN_DEVNET_FAULTS'

/** The options in OCN_DEVNET_FAULTS; throws DEVNET_OPTIONS_INVALID when they do not parse. */
export function parseCheatingFaultPlanOptions(json: string | undefined): CheatingFaultPlanOptions {
  const invalid = (details: string) =>
    new DevnetError('DEVNET_OPTIONS_INVALID', `${DEVNET_FAULTS_ENV} is not a fault plan`, { details })
  let value: unknown
  try {
    value = JSON.parse(json ?? '')
  } catch (cause) {
    throw invalid(`not JSON: ${(cause as Error).message}`)
  }
  if (typeof value !== 'object' || value === null) throw invalid('not an object')
  const { fraction, forgeAttribution, answer, crashAfterCommitSent } = value as Record<string, unknown>
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1))
    throw invalid('fraction must be 0..1')
  if (forgeAttribution !== undefined && typeof forgeAttribution !== 'boolean')
    throw invalid('forgeAttribution must be a boolean')
  if (answer !== undefined && !ANSWER_CHEATS.includes(answer as AnswerCheat))
    throw invalid(`answer must be one of ${ANSWER_CHEATS.join(', ')}`)
  if (crashAfterCommitSent !== undefined && typeof crashAfterCommitSent !== 'boolean')
    throw invalid('crashAfterCommitSent must be a boolean')
  return {
    fraction,
    ...(forgeAttribution === undefined ? {} : { forgeAttribution }),
    ...(answer === undefined ? {} : { answer: answer as AnswerCheat }),
    ...(crashAfterCommitSent === undefined ? {} : { crashAfterCommitSent }),
  }
}
