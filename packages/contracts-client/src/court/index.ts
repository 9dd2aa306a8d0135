// The DisputeCourt: sealed challenges, jury sortition, commit–reveal votes, appeals, execution.
export * from './challenger.js'
export * from './commitments.js'
export * from './dispute.js'
export * from './juror.js'
export * from './reads.js'
export * from './setCourtParams.js'
