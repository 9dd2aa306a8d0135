/**
 * `ocn job submit --generate <n>`: the flags of a generate job, and the generated tokens the
 * command prints once the requester has checked them against every committed leaf.
 */
import type { GenerateRequest, Job } from '@ocn/client'
import { type CommandContext, stringFlag } from '../command.js'
import { CliError } from '../errors.js'

export const generateFlags = {
  generate: {
    type: 'string' as const,
    value: '<max new tokens>',
    description:
      'a generate job on a decoder in the export layout (inputs: input_ids, optional attention_mask): this many tokens per prompt',
  },
  'stop-token': {
    type: 'string' as const,
    multiple: true,
    value: '<id>',
    description: 'a token id that ends its prompt (with --generate)',
  },
  temperature: {
    type: 'string' as const,
    value: '<t>',
    description: 'sampling temperature, 0 (default) is greedy (with --generate)',
  },
  'top-k': { type: 'string' as const, value: '<k>', description: 'sample from the k likeliest tokens' },
  'top-p': { type: 'string' as const, value: '<p>', description: 'sample from the nucleus of mass p' },
  seed: {
    type: 'string' as const,
    value: '<text>',
    description: "seeds the job's sampling (default random)",
  },
}

const INT = /^\d{1,10}$/
const NUMBER = /^\d{1,6}(\.\d{1,12})?$/

function numberFlag(context: CommandContext, name: string, shape: RegExp): number | undefined {
  const text = stringFlag(context.flags, name)
  if (text === undefined) return undefined
  if (!shape.test(text)) throw new CliError('CLI_USAGE', `--${name} must be a number (got "${text}")`)
  return Number(text)
}

/** --generate and its sampling flags as the API's `generate` field (ranges are the spec's to check). */
export function generateOptions(
  context: CommandContext,
  notPlainInference: string | undefined,
): { generate?: GenerateRequest } {
  const maxNewTokens = numberFlag(context, 'generate', INT)
  const raw = context.flags['stop-token']
  const stops = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  const temperature = numberFlag(context, 'temperature', NUMBER)
  const topK = numberFlag(context, 'top-k', INT)
  const topP = numberFlag(context, 'top-p', NUMBER)
  const seed = stringFlag(context.flags, 'seed')
  if (maxNewTokens === undefined) {
    const stray = ['stop-token', 'temperature', 'top-k', 'top-p', 'seed'].find((f) => f in context.flags)
    if (stray !== undefined)
      throw new CliError('CLI_USAGE', `--${stray} goes with --generate <max new tokens>`)
    return {}
  }
  if (notPlainInference !== undefined)
    throw new CliError(
      'CLI_USAGE',
      `--generate makes a generate job: it does not go with ${notPlainInference}`,
    )
  const stopTokens = stops.map((s) => {
    if (!INT.test(String(s))) throw new CliError('CLI_USAGE', `--stop-token takes a token id (got "${s}")`)
    return Number(s)
  })
  return {
    generate: {
      maxNewTokens,
      ...(stopTokens.length === 0 ? {} : { stopTokens }),
      sampling: {
        temperature: temperature ?? 0,
        ...(topK === undefined ? {} : { topK }),
        ...(topP === undefined ? {} : { topP }),
      },
      ...(seed === undefined ? {} : { seed }),
    },
  }
}

/** The requester's checked tokens of a generate job, once it has them. */
export function generatedTokens(job: Job): number[][] | undefined {
  const results = (job.detail as { results?: { tokens?: unknown; verified?: unknown } } | undefined)?.results
  const tokens = results?.tokens
  if (!Array.isArray(tokens) || !tokens.every((t) => Array.isArray(t))) return undefined
  return tokens as number[][]
}

/** How long `ocn job submit` waits after a generate job is finalized for its checked tokens. */
export const TOKENS_WAIT_MS = 30_000

/**
 * Waits (polling `fetch`) until the requester holds the job's checked tokens, or the wait is
 * over; what it printed before (the tokens as they are known) is never printed again.
 */
export async function awaitGeneratedTokens(
  fetch: () => Promise<Job>,
  waitMs = TOKENS_WAIT_MS,
): Promise<{ tokens: number[][]; verified: boolean } | undefined> {
  const until = Date.now() + waitMs
  for (;;) {
    const job = await fetch()
    const tokens = generatedTokens(job)
    if (tokens !== undefined) {
      const verified = (job.detail as { results?: { verified?: unknown } }).results?.verified === true
      return { tokens, verified }
    }
    if (Date.now() > until) return undefined
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** The lines that show a generate job's tokens, one prompt a line. */
export function tokensText(result: { tokens: number[][]; verified: boolean }): string {
  const head = `generated tokens (${result.verified ? 'each checked against its committed leaf' : 'NOT matching the committed leaves'})`
  return [head, ...result.tokens.map((t, p) => `  prompt ${p}: ${t.join(' ')}`)].join('\n')
}
