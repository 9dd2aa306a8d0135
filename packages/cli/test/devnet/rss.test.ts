import { describe, expect, it } from 'vitest'
import { type RssSample, readRssBytes, rssGrowthMbPerHour } from '../../src/devnet/rss.js'

const MiB = 2 ** 20
const minute = 60_000

/** A process that holds `start` MiB and grows `perHour` MiB an hour, sampled every minute. */
function lifetime(pid: number, fromMs: number, minutes: number, start: number, perHour: number): RssSample[] {
  return Array.from({ length: minutes }, (_, i) => ({
    pid,
    atMs: fromMs + i * minute,
    rssBytes: (start + (perHour * i) / 60) * MiB,
  }))
}

describe('rssGrowthMbPerHour', () => {
  it('is the slope of one process', () => {
    expect(rssGrowthMbPerHour(lifetime(1, 0, 30, 100, 12))).toBe(12)
  })

  it('reads a restart (a new pid starting small) as no drop: the slope is fitted within each lifetime', () => {
    const samples = [...lifetime(1, 0, 20, 100, 6), ...lifetime(2, 20 * minute, 20, 60, 6)]
    expect(rssGrowthMbPerHour(samples)).toBe(6)
    // one line through both lifetimes would have read the restart as shrinking memory
  })

  it('is 0 for a flat process and leaves out the warm-up', () => {
    const warm = lifetime(1, 0, 5, 50, 600)
    const flat = lifetime(1, 5 * minute, 20, 100, 0)
    expect(rssGrowthMbPerHour([...warm, ...flat], 5 * minute)).toBe(0)
  })

  it('is null without two samples of one process', () => {
    expect(rssGrowthMbPerHour([])).toBeNull()
    expect(
      rssGrowthMbPerHour([
        { pid: 1, atMs: 0, rssBytes: MiB },
        { pid: 2, atMs: minute, rssBytes: MiB },
      ]),
    ).toBeNull()
  })
})

describe('readRssBytes', () => {
  it('reads this process, and nothing for a pid that is gone', async () => {
    expect(await readRssBytes(process.pid)).toBeGreaterThan(MiB)
    expect(await readRssBytes(2 ** 22 + 12_345)).toBeUndefined()
  })
})
