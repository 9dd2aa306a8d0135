// Compact batches: many jobs awarded, committed and finalized with a lane of storage each.
export * from './reads.js'
export * from './records.js'
export * from './settle.js'
