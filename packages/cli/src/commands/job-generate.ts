/**
 * `ocn job submit --generate <n>`: the flags of a generate job, the tokens the command prints
 * while the provider streams them (on a TTY; as text with --vocab), and the generated tokens
 * it prints once the requester has checked them against every committed leaf. The committed
 * tokens are the result: prompts whose streamed tokens differ from them are flagged.
 */
import { readFile } from 'node:fs/promises'
import { TextDecoder } from 'node:util'
import type { ApiJson, GenerateRequest, JobRecord } from '@ocn/node'
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
  vocab: {
    type: 'string' as const,
    value: '<file>',
    description:
      'a tokenizer vocabulary (tokenizer.json, vocab.json or a JSON list of token strings): streamed tokens print as text',
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
    const stray = ['stop-token', 'temperature', 'top-k', 'top-p', 'seed', 'vocab'].find(
      (f) => f in context.flags,
    )
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
export function generatedTokens(job: ApiJson<JobRecord>): number[][] | undefined {
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
  fetch: () => Promise<ApiJson<JobRecord>>,
  waitMs = TOKENS_WAIT_MS,
): Promise<GeneratedTokens | undefined> {
  const until = Date.now() + waitMs
  for (;;) {
    const job = await fetch()
    const tokens = generatedTokens(job)
    if (tokens !== undefined) {
      const results = (job.detail as { results?: { verified?: unknown; streamMismatches?: unknown } }).results
      const differ = results?.streamMismatches
      return {
        tokens,
        verified: results?.verified === true,
        ...(Array.isArray(differ) && differ.length > 0 ? { streamMismatches: differ as number[] } : {}),
      }
    }
    if (Date.now() > until) return undefined
    await new Promise((r) => setTimeout(r, 250))
  }
}

export interface GeneratedTokens {
  tokens: number[][]
  verified: boolean
  /** prompts whose streamed tokens differ from the committed ones (the requester's check) */
  streamMismatches?: number[]
}

/** The lines that show a generate job's tokens, one prompt a line. */
export function tokensText(result: GeneratedTokens): string {
  const head = `generated tokens (${result.verified ? 'each checked against its committed leaf' : 'NOT matching the committed leaves'})`
  const lines = [head, ...result.tokens.map((t, p) => `  prompt ${p}: ${t.join(' ')}`)]
  if (result.streamMismatches !== undefined)
    lines.push(
      `  the tokens streamed for prompt ${result.streamMismatches.join(', ')} differed from these committed ones: the committed tokens are the result`,
    )
  return lines.join('\n')
}

/**
 * Byte-level BPE vocabularies (GPT-2 and its kin) write each byte as one printable character:
 * the printable bytes as themselves, the others shifted past U+0100. This is that map reversed.
 */
function byteLevelChars(): Map<string, number> {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
  const chars = new Map<string, number>()
  let shifted = 0
  for (let b = 0; b < 256; b++) chars.set(String.fromCodePoint(printable(b) ? b : 256 + shifted++), b)
  return chars
}

/** Turns token ids into text, per prompt (a byte-level token may end inside a UTF-8 character). */
export interface TokenText {
  decode(prompt: number, ids: number[]): string
}

/** A vocabulary as text per token id, from its JSON (a list, a token → id map, or a tokenizer.json). */
export function tokenTextFrom(json: unknown): TokenText {
  const model = (json as { model?: { vocab?: unknown } } | null)?.model?.vocab
  const source = model ?? json
  const pieces: string[] = []
  if (Array.isArray(source)) {
    for (const t of source) pieces.push(String(t))
  } else if (source !== null && typeof source === 'object') {
    for (const [piece, id] of Object.entries(source)) {
      if (Number.isInteger(id) && (id as number) >= 0 && (id as number) < 2 ** 31)
        pieces[id as number] = piece
    }
  } else {
    throw new CliError(
      'CLI_USAGE',
      '--vocab takes a JSON list of tokens, a token-to-id map or a tokenizer.json',
    )
  }
  const bytes = byteLevelChars()
  // byte-level if the space is written as its shifted character (Ġ), as GPT-2 writes it
  const byteLevel = pieces.some((p) => p?.includes('\u0120'))
  const decoders = new Map<number, TextDecoder>()
  return {
    decode(prompt, ids) {
      const text = ids.map((id) => pieces[id] ?? `<${id}>`).join('')
      if (!byteLevel) return text.replaceAll('\u2581', ' ')
      let decoder = decoders.get(prompt)
      if (decoder === undefined) {
        decoder = new TextDecoder()
        decoders.set(prompt, decoder)
      }
      return decoder.decode(
        Uint8Array.from(text, (c) => bytes.get(c) ?? 0x3f),
        { stream: true },
      )
    },
  }
}

export async function readTokenText(path: string): Promise<TokenText> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (cause) {
    throw new CliError('CLI_USAGE', `--vocab ${path} is not a readable JSON file`, { cause })
  }
  return tokenTextFrom(json)
}

/**
 * Prints the tokens the requester has taken from the provider's stream (detail.streamed of
 * each job record the command polls), each position once: a line per prompt as its tokens
 * arrive, text with a vocabulary, else ids. `breakLine` ends an open line before other output.
 */
export function streamedTokensPrinter(write: (text: string) => void, text?: TokenText) {
  const printed: number[] = []
  let open: number | undefined
  const breakLine = () => {
    if (open !== undefined) write('\n')
    open = undefined
  }
  return {
    breakLine,
    onJob(job: { detail?: unknown }): void {
      const streamed = (job.detail as { streamed?: unknown } | undefined)?.streamed
      if (!Array.isArray(streamed)) return
      streamed.forEach((row: unknown, p) => {
        if (!Array.isArray(row)) return
        const fresh = row.slice(printed[p] ?? 0).filter((t): t is number => Number.isInteger(t))
        if (fresh.length === 0) return
        printed[p] = row.length
        if (open !== p) {
          breakLine()
          write(`  prompt ${p}: `)
          open = p
        }
        write(text === undefined ? `${fresh.join(' ')} ` : text.decode(p, fresh))
      })
    },
  }
}
