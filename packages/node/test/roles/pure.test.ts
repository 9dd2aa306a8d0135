import { describe, expect, it } from 'vitest'
import { leavesNeeded } from '../../src/roles/shared.js'

describe('leavesNeeded', () => {
  it('adds each training segment its starting checkpoint', () => {
    expect(leavesNeeded('inference', [5, 1])).toEqual([1, 5])
    expect(leavesNeeded('training', [0, 3, 4])).toEqual([0, 2, 3, 4])
  })
})
