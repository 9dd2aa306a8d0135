import type { Hex } from 'viem'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { tokenProgress } from '../../src/executor/generate/decode.js'

const digest = (i: number): Hex => `0x${i.toString(16).padStart(64, '0')}`

describe('token progress (worker to host)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('sends the first token at once, then a run per 20 ms, and what waits on flush', () => {
    vi.useFakeTimers()
    vi.setSystemTime(0)
    const runs: { from: number; tokens: number[]; digests: Hex[] }[] = []
    const progress = tokenProgress((from, tokens, digests) => runs.push({ from, tokens, digests }))
    progress.add(0, 10, digest(0))
    expect(runs).toEqual([{ from: 0, tokens: [10], digests: [digest(0)] }])
    // a fast decoder: tokens 1.. picked within the same 20 ms wait together
    for (let i = 1; i <= 5; i++) progress.add(i, 10 + i, digest(i))
    expect(runs).toHaveLength(1)
    vi.setSystemTime(20)
    progress.add(6, 16, digest(6))
    expect(runs[1]).toEqual({
      from: 1,
      tokens: [11, 12, 13, 14, 15, 16],
      digests: [1, 2, 3, 4, 5, 6].map(digest),
    })
    progress.add(7, 17, digest(7))
    progress.flush()
    expect(runs[2]).toEqual({ from: 7, tokens: [17], digests: [digest(7)] })
    // nothing waiting: no empty message
    progress.flush()
    expect(runs).toHaveLength(3)
  })

  it('bounds a run at 256 tokens however fast they come', () => {
    vi.useFakeTimers()
    vi.setSystemTime(0)
    const sizes: number[] = []
    const progress = tokenProgress((_from, tokens) => sizes.push(tokens.length))
    for (let i = 0; i < 600; i++) progress.add(i, 1, digest(i))
    progress.flush()
    expect(sizes).toEqual([1, 256, 256, 87])
  })
})
