/**
 * The limits of the `tokenBatch` message (`/ocn/tokens/1.0.0`): the largest batch a sender
 * may pack encodes within the size limit, and anything past a limit (runs, tokens, token
 * ids, bytes) is refused with a ProtocolError before it reaches a handler.
 */
import { encode as cborEncode } from 'cborg'
import { describe, expect, it } from 'vitest'
import {
  decodeMessage,
  encodeMessage,
  MAX_STREAMED_TOKEN_ID,
  MAX_STREAMED_TOKENS_PER_BATCH,
  MAX_TOKEN_RUNS_PER_BATCH,
  MessageSizeLimit,
  ProtocolError,
  ProtocolErrorCode,
  type TokenBatch,
} from '../src/index.js'

const jobId = `0x${'ab'.repeat(32)}` as const

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError)
    return (error as ProtocolError).code
  }
  return undefined
}

/** `runs` runs of `perRun` tokens each, every id the largest allowed (the longest encoding). */
function batch(runs: number, perRun: number, id = MAX_STREAMED_TOKEN_ID): TokenBatch {
  return {
    version: 1,
    jobId,
    runs: Array.from({ length: runs }, (_, r) => ({
      prompt: 0xffff_ffff - r,
      from: 0xffff_ffff - r,
      tokens: new Array<number>(perRun).fill(id),
    })),
  }
}

describe('tokenBatch codec limits', () => {
  it('round-trips, and the largest packed batch (64 runs, 1024 tokens of the longest ids) fits the size limit', () => {
    const small = batch(2, 3, 7)
    expect(decodeMessage('tokenBatch', encodeMessage('tokenBatch', small))).toEqual(small)
    for (const b of [
      batch(MAX_TOKEN_RUNS_PER_BATCH, MAX_STREAMED_TOKENS_PER_BATCH / MAX_TOKEN_RUNS_PER_BATCH),
      batch(1, MAX_STREAMED_TOKENS_PER_BATCH),
    ]) {
      const bytes = encodeMessage('tokenBatch', b)
      expect(bytes.length).toBeLessThanOrEqual(MessageSizeLimit.tokenBatch)
      expect(decodeMessage('tokenBatch', bytes)).toEqual(b)
    }
  })

  it('refuses too many runs, too many tokens in a run, a token id past int32 and a negative one', () => {
    expect(codeOf(() => encodeMessage('tokenBatch', batch(MAX_TOKEN_RUNS_PER_BATCH + 1, 1)))).toBe(
      ProtocolErrorCode.INVALID_SCHEMA,
    )
    expect(codeOf(() => encodeMessage('tokenBatch', batch(1, MAX_STREAMED_TOKENS_PER_BATCH + 1)))).toBe(
      ProtocolErrorCode.INVALID_SCHEMA,
    )
    expect(codeOf(() => encodeMessage('tokenBatch', batch(1, 1, MAX_STREAMED_TOKEN_ID + 1)))).toBe(
      ProtocolErrorCode.INVALID_SCHEMA,
    )
    expect(codeOf(() => encodeMessage('tokenBatch', batch(1, 1, -1)))).toBe(ProtocolErrorCode.INVALID_SCHEMA)
  })

  it('refuses bytes over the size limit before parsing them, and runs of many tokens that add up past it', () => {
    const big = new Uint8Array(MessageSizeLimit.tokenBatch + 1)
    expect(codeOf(() => decodeMessage('tokenBatch', big))).toBe(ProtocolErrorCode.MESSAGE_TOO_LARGE)
    // each run within its own limit, all of them together past the bytes allowed
    expect(codeOf(() => encodeMessage('tokenBatch', batch(MAX_TOKEN_RUNS_PER_BATCH, 24)))).toBe(
      ProtocolErrorCode.MESSAGE_TOO_LARGE,
    )
  })

  it('refuses another version and fields it does not know', () => {
    const wire = (m: Record<string, unknown>) => cborEncode(m)
    const raw = { version: 2, jobId: new Uint8Array(32), runs: [] }
    expect(codeOf(() => decodeMessage('tokenBatch', wire(raw)))).toBeDefined()
    expect(codeOf(() => decodeMessage('tokenBatch', wire({ ...raw, version: 1, extra: 1 })))).toBe(
      ProtocolErrorCode.INVALID_SCHEMA,
    )
  })
})
