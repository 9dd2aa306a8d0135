export * from './errors.js'
export * from './random.js'
export * from './sampling.js'
export * from './spot-check.js'
