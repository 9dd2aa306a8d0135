/**
 * The generation-specific fields of a `generate` job spec (spec.ts adds kind and profile).
 * Inputs: `input_ids` int64 [prompts, length] and optionally `attention_mask` int64 of the
 * same shape (0 marks padding of shorter prompts, left or right; padded positions are
 * dropped before decoding, so each prompt runs as if alone).
 */
import { ExecutorError } from '../errors.js'
import type { SamplingRule } from './sampling.js'

export interface GenerateFields {
  /** generated positions per prompt; each is one Merkle leaf, padded after a stop */
  maxNewTokens: number
  /** a picked stop token ends its prompt's sequence (it is committed as the last token) */
  stopTokens: number[]
  sampling: SamplingRule
  /** seeds each position's uniform number (UTF-8 bytes of the string) */
  seed: string
  /**
   * near-tie tolerance, relative to a logits row's largest magnitude; default: the
   * profile's comparison tolerance, or DEFAULT_TIE_TOLERANCE under a bit-exact profile
   * (a prefill and cached steps sum in another order, so logits never agree bit for bit)
   */
  tieTolerance?: number
}

export const DEFAULT_TIE_TOLERANCE = 1e-4
export const MAX_NEW_TOKENS = 1 << 16

function fail(path: string, what: string): never {
  throw new ExecutorError('EXECUTOR_SPEC_INVALID', `job spec: ${path} ${what}`)
}

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max

function parseSampling(v: unknown): SamplingRule {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('spec.sampling', 'must be an object')
  const s = v as Record<string, unknown>
  for (const k of Object.keys(s))
    if (!['temperature', 'topK', 'topP'].includes(k)) fail(`spec.sampling.${k}`, 'is not a known field')
  const t = s.temperature
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 100)
    fail('spec.sampling.temperature', 'must be a number in [0, 100] (0 = greedy)')
  const rule: SamplingRule = { temperature: t }
  if (s.topK !== undefined) {
    if (!isInt(s.topK, 1, 1 << 24)) fail('spec.sampling.topK', 'must be an integer in 1..16777216')
    rule.topK = s.topK
  }
  if (s.topP !== undefined) {
    if (typeof s.topP !== 'number' || !(s.topP > 0 && s.topP <= 1))
      fail('spec.sampling.topP', 'must be a number in (0, 1]')
    rule.topP = s.topP
  }
  if (t === 0 && (rule.topK !== undefined || rule.topP !== undefined))
    fail('spec.sampling', 'greedy decoding (temperature 0) takes no topK or topP')
  return rule
}

export function parseGenerateFields(o: Record<string, unknown>): GenerateFields {
  if (!isInt(o.maxNewTokens, 1, MAX_NEW_TOKENS))
    fail('spec.maxNewTokens', `must be an integer in 1..${MAX_NEW_TOKENS}`)
  const stops = o.stopTokens ?? []
  if (!Array.isArray(stops) || stops.length > 64 || !stops.every((t) => isInt(t, 0, 2 ** 31 - 1)))
    fail('spec.stopTokens', 'must be a list of at most 64 token ids')
  if (typeof o.seed !== 'string' || o.seed.length === 0 || o.seed.length > 256)
    fail('spec.seed', 'must be a string of 1..256 chars')
  const fields: GenerateFields = {
    maxNewTokens: o.maxNewTokens,
    stopTokens: stops as number[],
    sampling: parseSampling(o.sampling),
    seed: o.seed,
  }
  if (o.tieTolerance !== undefined) {
    if (typeof o.tieTolerance !== 'number' || !(o.tieTolerance >= 0 && o.tieTolerance <= 0.1))
      fail('spec.tieTolerance', 'must be a number in [0, 0.1]')
    fields.tieTolerance = o.tieTolerance
  }
  return fields
}
