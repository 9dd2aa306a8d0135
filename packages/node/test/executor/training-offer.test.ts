import { describe, expect, it } from 'vitest'
import { checkpointStepsFor, trainingOfferCounts } from '../../src/executor/training/plan.js'

// JobMarket._leafCountOf for a training offer: ceil(sampleCount / microBatchSize) + 1
const chainLeafCount = (o: { sampleCount: number; microBatchSize: number }) =>
  Math.ceil(o.sampleCount / o.microBatchSize) + 1

describe('trainingOfferCounts', () => {
  it('gives offer fields from which the chain computes exactly the checkpoint count', () => {
    for (const rows of [1, 7, 96, 100, 1000]) {
      for (const batchSize of [1, 3, 16, 128]) {
        for (const epochs of [1, 2, 4]) {
          for (const checkpointInterval of [1, 2, 5, 24, 1000]) {
            const spec = { batchSize, epochs, checkpointInterval }
            const offer = trainingOfferCounts(spec, rows)
            expect(chainLeafCount(offer)).toBe(checkpointStepsFor(spec, rows).length)
            // the protocol's offer checks: 1 <= microBatchSize <= sampleCount
            expect(offer.microBatchSize).toBeGreaterThanOrEqual(1)
            expect(offer.microBatchSize).toBeLessThanOrEqual(offer.sampleCount)
          }
        }
      }
    }
  })

  it('carries the step count in sampleCount: 96 rows in batches of 16 over 4 epochs', () => {
    expect(trainingOfferCounts({ batchSize: 16, epochs: 4, checkpointInterval: 5 }, 96)).toEqual({
      sampleCount: 24,
      microBatchSize: 5,
    })
  })
})
