/**
 * Streaming a generate job's tokens, without a network: the provider's pusher batches tokens
 * (by count and by time, one send at a time, in order, giving up after failures in a row
 * without failing anything), batches are packed within the message limits, and the
 * requester flags prompts whose streamed tokens differ from the committed ones.
 */
import {
  encodeMessage,
  MAX_STREAMED_TOKENS_PER_BATCH,
  MAX_TOKEN_RUNS_PER_BATCH,
  MessageSizeLimit,
  type TokenRun,
} from '@ocn/protocol'
import { describe, expect, it } from 'vitest'
import { packTokenBatches } from '../../src/p2p/token-stream.js'
import { tokenPusher } from '../../src/roles/generation.js'
import { streamMismatches } from '../../src/roles/requester/token-stream.js'

const jobId = `0x${'12'.repeat(32)}` as const

describe('tokenPusher', () => {
  it('sends a batch once batchTokens wait, as runs per prompt, and the rest on close', async () => {
    const sent: TokenRun[][] = []
    const push = tokenPusher(
      async (runs) => {
        sent.push(runs)
      },
      { batchTokens: 4, intervalMs: 60_000, maxFailures: 3 },
    )
    for (let i = 0; i < 3; i++) {
      push.onToken({ prompt: 0, position: i, token: 10 + i })
      push.onToken({ prompt: 1, position: i, token: 20 + i })
    }
    await push.close()
    const all = sent.flat()
    expect(sent[0]).toEqual([
      { prompt: 0, from: 0, tokens: [10, 11] },
      { prompt: 1, from: 0, tokens: [20, 21] },
    ])
    expect(all.reduce((n, r) => n + r.tokens.length, 0)).toBe(6)
    expect(all.at(-1)).toEqual({ prompt: 1, from: 2, tokens: [22] })
  })

  it('tries a failed batch again after a backoff (a requester still recording the award refuses it)', async () => {
    const delivered: TokenRun[][] = []
    let refusals = 2
    const push = tokenPusher(
      async (runs) => {
        if (refusals-- > 0) throw new Error('the sender is not the awarded provider of the job')
        delivered.push(runs)
      },
      { batchTokens: 2, intervalMs: 5, maxFailures: 5 },
    )
    for (let i = 0; i < 4; i++) push.onToken({ prompt: 0, position: i, token: 30 + i })
    await push.close()
    const row: number[] = []
    for (const run of delivered.flat()) row.splice(run.from, run.tokens.length, ...run.tokens)
    expect(row).toEqual([30, 31, 32, 33])
  })

  it('sends what waits after intervalMs, holds tokens while a send runs, and keeps the order', async () => {
    const sent: TokenRun[][] = []
    let release: () => void = () => {}
    const push = tokenPusher(
      (runs) => {
        sent.push(runs)
        return new Promise<void>((r) => {
          release = r
        })
      },
      { batchTokens: 100, intervalMs: 5, maxFailures: 3 },
    )
    push.onToken({ prompt: 0, position: 0, token: 1 })
    await new Promise((r) => setTimeout(r, 30))
    expect(sent).toEqual([[{ prompt: 0, from: 0, tokens: [1] }]])
    push.onToken({ prompt: 0, position: 1, token: 2 })
    push.onToken({ prompt: 0, position: 2, token: 3 })
    await new Promise((r) => setTimeout(r, 30))
    expect(sent).toHaveLength(1)
    release()
    const closed = push.close()
    await new Promise((r) => setTimeout(r, 5))
    release()
    await closed
    expect(sent[1]).toEqual([{ prompt: 0, from: 1, tokens: [2, 3] }])
  })

  it('stops streaming after maxFailures failed sends in a row and never throws', async () => {
    let calls = 0
    const push = tokenPusher(
      async () => {
        calls++
        throw new Error('requester unreachable')
      },
      { batchTokens: 1, intervalMs: 60_000, maxFailures: 2 },
    )
    for (let i = 0; i < 10; i++) {
      push.onToken({ prompt: 0, position: i, token: i })
      await new Promise((r) => setImmediate(r))
    }
    await push.close()
    expect(calls).toBe(2)
  })
})

describe('packTokenBatches', () => {
  it('keeps each batch within the run and token limits and the size limit, in order, nothing lost', () => {
    const runs: TokenRun[] = [
      { prompt: 0, from: 5, tokens: Array.from({ length: 2500 }, (_, i) => i) },
      ...Array.from({ length: 100 }, (_, p) => ({ prompt: p + 1, from: 0, tokens: [p] })),
    ]
    const batches = packTokenBatches(jobId, runs)
    for (const b of batches) {
      expect(b.runs.length).toBeLessThanOrEqual(MAX_TOKEN_RUNS_PER_BATCH)
      expect(b.runs.reduce((n, r) => n + r.tokens.length, 0)).toBeLessThanOrEqual(
        MAX_STREAMED_TOKENS_PER_BATCH,
      )
      expect(encodeMessage('tokenBatch', b).length).toBeLessThanOrEqual(MessageSizeLimit.tokenBatch)
    }
    const flat = batches.flatMap((b) => b.runs)
    const first = flat.filter((r) => r.prompt === 0)
    expect(first.map((r) => r.from)).toEqual([5, 5 + 1024, 5 + 2048])
    expect(first.flatMap((r) => r.tokens)).toEqual(runs[0]!.tokens)
    expect(flat.filter((r) => r.prompt > 0)).toHaveLength(100)
    expect(packTokenBatches(jobId, [])).toEqual([])
  })
})

describe('streamMismatches', () => {
  it('flags a prompt whose streamed tokens differ from or run past the committed ones, not a shorter prefix', () => {
    const committed = [
      [1, 2, 3],
      [4, 5],
      [6, 7],
    ]
    expect(streamMismatches([[1, 2], [4, 5], []], committed)).toEqual([])
    expect(
      streamMismatches(
        [
          [1, 9],
          [4, 5, 8],
          [6, 7],
        ],
        committed,
      ),
    ).toEqual([0, 1])
  })
})
