/**
 * The sampling rule of a generation job, shared by the provider (which picks tokens) and
 * the verifier (which checks them), and the leaves that commit the picks.
 *
 * A rule is a function of the logits and one uniform number u per position, which comes
 * from the job's seed: u = first 53 bits of SHA-256("ocn/generate/u/v1" 0x00 seed 0x00
 * u32be(prompt) u32be(position)) / 2^53. So anyone with the seed and the logits picks the
 * same token, and the provider cannot steer u.
 *
 * Picking: temperature 0 is greedy (argmax, lowest id on ties). Otherwise logits / T, then
 * top-k (the k largest, ties by lower id), then top-p (the smallest prefix, by falling
 * probability, whose mass reaches p), renormalized, and the token is found by inverse CDF
 * walking the kept tokens in token-id order, not probability order: two near-tied tokens
 * then keep their places whichever is larger, so the verifier's slightly different logits
 * move the intervals a little instead of swapping them (see acceptsToken).
 */
import { createHash } from 'node:crypto'
import type { Hex } from 'viem'

export interface SamplingRule {
  /** 0 = greedy */
  temperature: number
  /** keep the k most likely tokens */
  topK?: number
  /** keep the smallest set of most likely tokens whose probability reaches p, in (0, 1] */
  topP?: number
}

export const UNIFORM_DOMAIN = 'ocn/generate/u/v1'
export const LOGITS_DOMAIN = 'ocn/logits/v1'
export const GENERATION_LEAF_DOMAIN = 'ocn/generate-leaf/v1'
/** the token of a padding leaf: a position after the sequence stopped */
export const PAD_TOKEN = -1
export const ZERO_DIGEST: Hex = `0x${'00'.repeat(32)}`

/** The uniform number in [0, 1) of one position of one prompt. */
export function uniformFor(seed: string, prompt: number, position: number): number {
  const idx = Buffer.alloc(8)
  idx.writeUInt32BE(prompt, 0)
  idx.writeUInt32BE(position, 4)
  const d = createHash('sha256')
    .update(UNIFORM_DOMAIN)
    .update(new Uint8Array([0]))
    .update(seed, 'utf8')
    .update(new Uint8Array([0]))
    .update(idx)
    .digest()
  // 21 + 32 bits: exact in a double
  return ((d.readUInt32BE(0) >>> 11) * 2 ** 32 + d.readUInt32BE(4)) / 2 ** 53
}

/** SHA-256 of one position's logits (float32, little-endian) under LOGITS_DOMAIN. */
export function logitsDigest(logits: Float32Array): Hex {
  const bytes = new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength)
  return `0x${createHash('sha256')
    .update(LOGITS_DOMAIN)
    .update(new Uint8Array([0]))
    .update(bytes)
    .digest('hex')}`
}

/**
 * The dataHash of a generation leaf: SHA-256(GENERATION_LEAF_DOMAIN 0x00 u32be(prompt)
 * u32be(position) i32be(token) digest). After a stop, padding leaves hold PAD_TOKEN and
 * ZERO_DIGEST, so the leaf count stays what the award fixed.
 */
export function generationLeaf(prompt: number, position: number, token: number, digest: Hex): Hex {
  const head = Buffer.alloc(12)
  head.writeUInt32BE(prompt, 0)
  head.writeUInt32BE(position, 4)
  head.writeInt32BE(token, 8)
  return `0x${createHash('sha256')
    .update(GENERATION_LEAF_DOMAIN)
    .update(new Uint8Array([0]))
    .update(head)
    .update(Buffer.from(digest.slice(2), 'hex'))
    .digest('hex')}`
}

function argmax(logits: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i
  return best
}

/** token ids by falling value, ties by lower id */
function byValue(values: ArrayLike<number>, ids: number[]): number[] {
  return ids.sort((a, b) => values[b]! - values[a]! || a - b)
}

/** The kept tokens (ascending id) and their unnormalized probabilities under the rule. */
export function keptTokens(
  logits: ArrayLike<number>,
  rule: SamplingRule,
): { ids: number[]; weights: number[] } {
  const t = rule.temperature
  let max = Number.NEGATIVE_INFINITY
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!)
  const all = Array.from({ length: logits.length }, (_, i) => i)
  let kept =
    rule.topK !== undefined && rule.topK < logits.length ? byValue(logits, all).slice(0, rule.topK) : all
  const weight = (i: number) => Math.exp((logits[i]! - max) / t)
  if (rule.topP !== undefined && rule.topP < 1) {
    const ordered = byValue(logits, [...kept])
    const total = ordered.reduce((s, i) => s + weight(i), 0)
    let mass = 0
    let n = 0
    while (n < ordered.length && mass < rule.topP * total) mass += weight(ordered[n++]!)
    kept = ordered.slice(0, Math.max(1, n))
  }
  const ids = kept.sort((a, b) => a - b)
  return { ids, weights: ids.map(weight) }
}

/** The token the rule picks from these logits at uniform u. */
export function pickToken(logits: ArrayLike<number>, rule: SamplingRule, u: number): number {
  if (rule.temperature === 0) return argmax(logits)
  const { ids, weights } = keptTokens(logits, rule)
  const total = weights.reduce((s, w) => s + w, 0)
  let acc = 0
  for (let j = 0; j < ids.length; j++) {
    acc += weights[j]!
    if (acc > u * total) return ids[j]!
  }
  return ids[ids.length - 1]!
}

/**
 * Whether `token` is what the rule picks at u from logits that differ from these by at most
 * `epsilon` per entry: the verifier's prefill and the provider's cached steps add up in
 * another order, so an honest pick can differ at a near-tie and nowhere else.
 *
 * Greedy: the token's logit is within 2ε of the maximum. Sampling: logit differences move by
 * at most 2ε/T after temperature, so each weight by a factor within e^(±2ε/T); the token's
 * CDF interval (token-id order) may then shift by that share, plus the mass of the tokens
 * whose membership in the kept set is in doubt (within 2ε of its boundary). A token outside
 * even the widened kept set is refused.
 */
export function acceptsToken(
  logits: ArrayLike<number>,
  rule: SamplingRule,
  u: number,
  token: number,
  epsilon: number,
): boolean {
  if (!Number.isInteger(token) || token < 0 || token >= logits.length) return false
  if (pickToken(logits, rule, u) === token) return true
  if (rule.temperature === 0) return logits[token]! >= logits[argmax(logits)]! - 2 * epsilon
  const { ids, weights } = keptTokens(logits, rule)
  // with top-k or top-p some tokens are cut, and those near the cut might not have been
  const filtered = ids.length < logits.length
  let boundary = Number.POSITIVE_INFINITY
  for (const i of ids) boundary = Math.min(boundary, logits[i]!)
  // a token this close below the boundary might have been kept by the provider
  if (!ids.includes(token) && logits[token]! < boundary - 2 * epsilon) return false
  const total = weights.reduce((s, w) => s + w, 0)
  let lo = 0
  let own = 0
  let doubtful = 0
  ids.forEach((id, j) => {
    if (id < token) lo += weights[j]!
    if (id === token) own = weights[j]!
    if (filtered && logits[id]! <= boundary + 2 * epsilon) doubtful += weights[j]!
  })
  const drift = 2 * (Math.exp((2 * epsilon) / rule.temperature) - 1)
  const slack = drift + doubtful / total
  return u >= lo / total - slack && u <= (lo + own) / total + slack
}
