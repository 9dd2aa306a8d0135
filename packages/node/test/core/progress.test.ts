/** The progress hub (core/progress.ts): first and last always, at most one per interval between, none lost. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createProgressHub, type ProgressUpdate } from '../../src/core/progress.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('progress hub', () => {
  it('passes the first update, holds the newest within the interval, and sends it when it ends', () => {
    const hub = createProgressHub({ intervalMs: 100 })
    const seen: ProgressUpdate[] = []
    hub.subscribe((update) => seen.push(update))
    for (let done = 1; done <= 50; done++) hub.report({ stage: 'execution', unit: 'steps', jobId: 'j', done })
    expect(seen.map((update) => update.done)).toEqual([1])
    vi.advanceTimersByTime(100)
    expect(seen.map((update) => update.done)).toEqual([1, 50])
    vi.advanceTimersByTime(1_000)
    expect(seen).toHaveLength(2)
  })

  it('sends a finished update at once and keeps pieces of work apart', () => {
    const hub = createProgressHub({ intervalMs: 100 })
    const seen: ProgressUpdate[] = []
    hub.subscribe((update) => seen.push(update))
    hub.report({ stage: 'transfer', unit: 'bytes', label: 'model', done: 0, total: 10 })
    hub.report({ stage: 'transfer', unit: 'bytes', label: 'inputs', done: 0, total: 4 })
    vi.advanceTimersByTime(2_000)
    hub.report({ stage: 'transfer', unit: 'bytes', label: 'model', done: 5, total: 10 })
    hub.report({ stage: 'transfer', unit: 'bytes', label: 'model', done: 10, total: 10, finished: true })
    expect(seen.map((update) => `${update.label}:${update.done}`)).toEqual([
      'model:0',
      'inputs:0',
      'model:5',
      'model:10',
    ])
    // the rate is units per second since the first update of that piece: 10 bytes in 2 s
    expect(seen.at(-1)?.rate).toBe(5)
    vi.advanceTimersByTime(1_000)
    expect(seen).toHaveLength(4)
  })

  it('forgets the oldest piece past its bound, and a throwing listener does not stop the others', () => {
    const hub = createProgressHub({ intervalMs: 100, maxTracked: 2 })
    const seen: number[] = []
    hub.subscribe(() => {
      throw new Error('closed stream')
    })
    const stop = hub.subscribe((update) => seen.push(update.done))
    for (const label of ['a', 'b', 'c']) hub.report({ stage: 'circuit', unit: 'stages', label, done: 1 })
    // 'a' was forgotten, so its next update counts as a first one and passes at once
    hub.report({ stage: 'circuit', unit: 'stages', label: 'a', done: 2 })
    expect(seen).toEqual([1, 1, 1, 2])
    stop()
    hub.report({ stage: 'circuit', unit: 'stages', label: 'z', done: 9 })
    expect(seen).toEqual([1, 1, 1, 2])
    hub.close()
  })
})
