import { describe, expect, it } from 'vitest'
import { effectivePrice } from '../../src/roles/requester/index.js'
import { leavesNeeded } from '../../src/roles/shared.js'

describe('effectivePrice', () => {
  it('prices slashes and no-shows up and a track record a little down', () => {
    const clean = { completed: 0, slashed: 0, noShows: 0 }
    expect(effectivePrice(1000n, clean)).toBe(1000n)
    expect(effectivePrice(1000n, { ...clean, slashed: 1 })).toBe(3000n)
    expect(effectivePrice(1000n, { ...clean, noShows: 1 })).toBe(2000n)
    expect(effectivePrice(1000n, { ...clean, completed: 10 })).toBe(666n)
    expect(effectivePrice(1000n, { ...clean, completed: 50 })).toBe(666n)
  })
})

describe('leavesNeeded', () => {
  it('adds each training segment its starting checkpoint', () => {
    expect(leavesNeeded('inference', [5, 1])).toEqual([1, 5])
    expect(leavesNeeded('training', [0, 3, 4])).toEqual([0, 2, 3, 4])
  })
})
