export { decodeJson, encodeJson, toPublicJson } from './codec.js'
export { IllegalTransitionError, StateError, type StateErrorCode } from './errors.js'
export * from './job-detail.js'
export { JobLocks } from './job-locks.js'
export * from './job-state.js'
export * from './options.js'
export type * from './records.js'
export {
  createStateStore,
  type JobQuery,
  type StateStore,
  type StateWrite,
  type TransitionJobParameters,
} from './store.js'
