export * from './eip712.js'
export * from './merkle.js'
